#include "reflex/rpatterns/concurrent.hpp"

#include <gtest/gtest.h>

#include <future>
#include <random>
#include <set>

#include "helpers.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"

namespace {

using namespace rpatterns_test;
namespace rp = reflex::rpatterns;

/// Records which events finished and checks, on every cursor update, that the cursor never passes
/// an unfinished event and never moves back.
class CheckingStore final : public reflex::CursorStore {
 public:
  std::string get(std::string_view) override {
    std::lock_guard lock(mu_);
    return cursor_;
  }
  void set(std::string_view, std::string_view cursor) override {
    std::lock_guard lock(mu_);
    const auto value = reflex::parse_int64(cursor).value();
    for (std::int64_t id = 1; id <= value; ++id) {
      if (!finished_.count(id)) ++violations_;
    }
    if (!cursor_.empty() && value <= reflex::parse_int64(cursor_).value()) ++violations_;
    cursor_ = cursor;
    ++sets_;
  }
  void flush() override {}

  void finished(std::int64_t id) {
    std::lock_guard lock(mu_);
    finished_.insert(id);
  }
  int violations() {
    std::lock_guard lock(mu_);
    return violations_;
  }
  int sets() {
    std::lock_guard lock(mu_);
    return sets_;
  }
  std::string cursor() {
    std::lock_guard lock(mu_);
    return cursor_;
  }

 private:
  std::mutex mu_;
  std::set<std::int64_t> finished_;
  std::string cursor_;
  int violations_ = 0;
  int sets_ = 0;
};

/// Counts events in flight and the most seen at once.
struct InFlight {
  std::atomic<int> now{0};
  std::atomic<int> peak{0};
  void enter() {
    const int n = ++now;
    int p = peak.load();
    while (n > p && !peak.compare_exchange_weak(p, n)) {
    }
  }
  void leave() { --now; }
};

/// Random sleeps of 0-3 ms, thread-safe, seeded per test for reproducible orders.
struct Jitter {
  std::mutex mu;
  std::mt19937 rng;
  explicit Jitter(unsigned seed) : rng(seed) {}
  void sleep() {
    int us = 0;
    {
      std::lock_guard lock(mu);
      us = std::uniform_int_distribution<int>(0, 3000)(rng);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(us));
  }
};

TEST(Concurrent, ConsumesEveryEventOnceWithUpToNInFlight) {
  reflex::MemLog log;
  for (int i = 0; i < 200; ++i) log.append(1, "f" + std::to_string(i));
  auto store = std::make_shared<CheckingStore>();
  InFlight in_flight;
  Jitter jitter(1);
  std::mutex mu;
  std::multiset<std::string> seen;
  auto consumer = reflex::make_consumer("slow", [&](const reflex::Event& e) {
    in_flight.enter();
    jitter.sleep();
    {
      std::lock_guard lock(mu);
      seen.insert(e.id);
    }
    store->finished(e.id_int());
    in_flight.leave();
  });
  auto spec = rp::concurrent({.stream = log.stream_func(),
                              .cursors = store,
                              .consumer = consumer,
                              .options = {.to_head = true}},
                             {.max_in_flight = 4});
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  const auto all = range_ids(1, 200);
  EXPECT_EQ(seen, std::multiset<std::string>(all.begin(), all.end()));
  EXPECT_LE(in_flight.peak.load(), 4);
  EXPECT_GT(in_flight.peak.load(), 1);
  EXPECT_EQ(store->cursor(), "200");  // to_head waited for every event in flight
  EXPECT_EQ(store->violations(), 0);
}

TEST(Concurrent, NeverAdvancesPastAnUnfinishedEventInRandomCompletionOrder) {
  for (unsigned seed = 1; seed <= 5; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    reflex::MemLog log;
    for (int i = 0; i < 100; ++i) log.append(1, "f");
    auto store = std::make_shared<CheckingStore>();
    Jitter jitter(seed);
    auto consumer = reflex::make_consumer("random", [&](const reflex::Event& e) {
      jitter.sleep();
      store->finished(e.id_int());
    });
    auto spec = rp::concurrent({.stream = log.stream_func(),
                                .cursors = store,
                                .consumer = consumer,
                                .options = {.to_head = true}},
                               {.max_in_flight = 8});
    EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
    EXPECT_EQ(store->violations(), 0);
    EXPECT_EQ(store->cursor(), "100");
    EXPECT_GT(store->sets(), 1);
  }
}

TEST(Concurrent, AFailureEndsTheRunAfterTheEventsInFlightSettle) {
  reflex::MemLog log;
  for (int i = 0; i < 100; ++i) log.append(1, "f" + std::to_string(i + 1));
  auto store = std::make_shared<CheckingStore>();
  Jitter jitter(7);
  std::atomic<int> running{0};
  std::atomic<int> running_when_failed_seen{-1};
  auto consumer = reflex::make_consumer("fails-on-50", [&](const reflex::Event& e) {
    ++running;
    jitter.sleep();
    if (e.id == "50") {
      --running;
      throw std::runtime_error("cannot handle 50");
    }
    store->finished(e.id_int());
    --running;
  });
  auto spec = rp::concurrent({.stream = log.stream_func(),
                              .cursors = store,
                              .consumer = consumer,
                              .options = {.to_head = true}},
                             {.max_in_flight = 8});
  try {
    reflex::run({}, spec);
    FAIL() << "expected ConsumeError";
  } catch (const reflex::ConsumeError& e) {
    running_when_failed_seen = running.load();
    EXPECT_EQ(e.consumer(), "fails-on-50");
    EXPECT_EQ(e.event_id(), "50");
    EXPECT_EQ(e.foreign_id(), "f50");
    EXPECT_NE(std::string(e.what()).find("cannot handle 50"), std::string::npos);
  }
  EXPECT_EQ(running_when_failed_seen.load(), 0);  // nothing was still running
  // Every event before 50 was started before it, so all settled: the cursor stops right there.
  EXPECT_EQ(store->cursor(), "49");
  EXPECT_EQ(store->violations(), 0);
}

TEST(Concurrent, AFailureEndsARunThatWaitsForEvents) {
  reflex::MemLog log;
  log.append(1, "a");
  auto store = std::make_shared<CheckingStore>();
  auto consumer = reflex::make_consumer("fails", [&](const reflex::Event&) {
    std::this_thread::sleep_for(20ms);  // the run is back in recv by now
    throw std::runtime_error("boom");
  });
  auto spec = rp::concurrent(
      {.stream = log.stream_func(), .cursors = store, .consumer = consumer, .options = {}},
      {.max_in_flight = 2});
  auto done = std::async(std::launch::async, [&] { reflex::run({}, spec); });
  ASSERT_EQ(done.wait_for(3s), std::future_status::ready);
  EXPECT_THROW(done.get(), reflex::ConsumeError);
  EXPECT_EQ(store->cursor(), "");
}

TEST(Concurrent, ResumesAfterAFailureWithoutSkippingAnything) {
  reflex::MemLog log;
  for (int i = 0; i < 40; ++i) log.append(1, "f");
  auto store = std::make_shared<CheckingStore>();
  std::mutex mu;
  std::multiset<std::string> seen;
  std::atomic<bool> failed_once{false};
  Jitter jitter(3);
  auto consumer = reflex::make_consumer("flaky", [&](const reflex::Event& e) {
    jitter.sleep();
    if (e.id == "17" && !failed_once.exchange(true)) throw reflex::Unavailable("flaky");
    {
      std::lock_guard lock(mu);
      seen.insert(e.id);
    }
    store->finished(e.id_int());
  });
  auto spec = rp::concurrent({.stream = log.stream_func(),
                              .cursors = store,
                              .consumer = consumer,
                              .options = {.to_head = true}},
                             {.max_in_flight = 5});
  EXPECT_THROW(reflex::run({}, spec), reflex::ConsumeError);
  EXPECT_EQ(store->cursor(), "16");
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(store->cursor(), "40");
  // At least once: every event was consumed, some after 17 possibly twice.
  for (const auto& id : range_ids(1, 40)) EXPECT_GE(seen.count(id), 1u) << id;
  for (const auto& id : range_ids(1, 16)) EXPECT_EQ(seen.count(id), 1u) << id;
  EXPECT_EQ(store->violations(), 0);
}

TEST(Concurrent, RejectsZeroInFlight) {
  reflex::MemLog log;
  reflex::Spec spec{.stream = log.stream_func(),
                    .cursors = std::make_shared<CheckingStore>(),
                    .consumer = reflex::make_consumer("c", [](const reflex::Event&) {})};
  EXPECT_THROW((void)rp::concurrent(spec, {.max_in_flight = 0}), reflex::ConfigError);
}

}  // namespace
