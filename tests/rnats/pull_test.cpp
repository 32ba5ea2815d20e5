// Pull consumers (what windshift creates) and consumers of several subjects, which nats-server 2.9
// can filter by one subject only.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "nats_test.hpp"
#include "reflex/errors.hpp"

namespace {

using namespace std::chrono_literals;
namespace rnats = reflex::rnats;
using rnats_test::TempStream;
using Clock = std::chrono::steady_clock;

void fill(const rnats::Connection& conn, const std::string& subject, int n, int from = 0) {
  for (int i = from; i < from + n; ++i) {
    rnats::publish(conn, {.subject = subject, .data = std::to_string(i)});
  }
}

std::vector<std::string> drain(rnats::Subscription& sub, std::chrono::milliseconds quiet = 300ms) {
  std::vector<std::string> out;
  while (auto d = sub.next({}, quiet)) {
    out.push_back(d->data());
    d->ack();
  }
  return out;
}

TEST(PullConsumer, DeliversAcksRejectsAndPingsLikeAPushConsumer) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  fill(conn, stream.subject(), 2);
  const auto info = rnats::ensure_consumer(
      conn, {.stream = stream.name(), .name = "puller", .processing_timeout = 400ms, .pull = true});
  EXPECT_TRUE(info.config.pull);
  EXPECT_EQ(info.config.processing_timeout, 400ms);
  rnats::Subscription sub(conn, stream.name(), "puller");
  EXPECT_EQ(sub.processing_timeout(), 400ms);
  auto first = sub.next({}, 5s);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->data(), "0");
  EXPECT_EQ(first->sequence(), 1u);
  EXPECT_EQ(first->attempt(), 1u);
  EXPECT_EQ(first->subject(), stream.subject());
  EXPECT_GT(first->stored().time_since_epoch().count(), 0);
  first->reject();
  // Rejected now: it comes again (before or after "1").
  std::map<std::string, std::uint64_t> attempts;
  while (attempts.size() < 2) {
    auto d = sub.next({}, 5s);
    ASSERT_TRUE(d);
    attempts[d->data()] = d->attempt();
    if (d->data() == "1") {
      // Pinged for twice the processing timeout: not delivered again meanwhile.
      for (int i = 0; i < 4; ++i) {
        auto other = sub.next({}, 200ms);
        if (other) {
          EXPECT_EQ(other->data(), "0") << "redelivered although pinged";
          attempts["0"] = other->attempt();
          other->ack();
        }
        d->ping();
      }
    }
    d->ack();
  }
  EXPECT_EQ(attempts["0"], 2u);
  EXPECT_EQ(attempts["1"], 1u);
  EXPECT_TRUE(drain(sub, 700ms).empty());  // both acknowledged: never again
  EXPECT_EQ(rnats::consumer_info(conn, stream.name(), "puller")->ack_pending, 0);
}

TEST(PullConsumer, HandsOutAtMostMaxInFlightUnfinishedDeliveries) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  fill(conn, stream.subject(), 10);
  rnats::ensure_consumer(conn, {.stream = stream.name(), .name = "window", .pull = true});
  rnats::Subscription sub(conn, stream.name(), "window", {.max_in_flight = 3});
  std::vector<rnats::Delivery> held;
  for (int i = 0; i < 3; ++i) {
    auto d = sub.next({}, 5s);
    ASSERT_TRUE(d);
    held.push_back(std::move(*d));
  }
  EXPECT_FALSE(sub.next({}, 300ms)) << "a fourth delivery while three are unfinished";
  // The server holds back the rest, too: nothing sits in our inbox waiting for ack wait.
  EXPECT_EQ(rnats::consumer_info(conn, stream.name(), "window")->ack_pending, 3);
  held[0].ack();
  auto d = sub.next({}, 5s);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->data(), "3");
  d->ack();
  for (auto& h : held) {
    if (!h.finished()) h.ack();
  }
  EXPECT_EQ(drain(sub).size(), 6u);
}

TEST(PullConsumer, SubscribersOfADurableOneShareTheWork) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  constexpr int kEvents = 200;
  rnats::ensure_consumer(conn, {.stream = stream.name(), .name = "shared", .pull = true});
  std::mutex mu;
  std::map<int, std::multiset<std::string>> got;
  std::atomic<int> total{0};
  std::vector<std::jthread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&, w](std::stop_token stop) {
      auto own = rnats_test::connect();
      rnats::Subscription sub(own, stream.name(), "shared", {.max_in_flight = 4});
      while (!stop.stop_requested()) {
        auto d = sub.next(stop, 100ms);
        if (!d) continue;
        {
          std::lock_guard lock(mu);
          got[w].insert(d->data());
        }
        // Slow enough that both pull while the other works.
        std::this_thread::sleep_for(1ms);
        d->ack();
        ++total;
      }
    });
  }
  fill(conn, stream.subject(), kEvents);
  ASSERT_TRUE(rnats_test::eventually([&] { return total.load() >= kEvents; }, 20s));
  workers.clear();
  std::multiset<std::string> all;
  for (const auto& [w, events] : got) all.insert(events.begin(), events.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kEvents));
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), all.size()) << "duplicates";
  EXPECT_GT(got[0].size(), 0u);
  EXPECT_GT(got[1].size(), 0u);
}

TEST(PullConsumer, EphemeralOnesAreNamedByTheServerAndKeepTheirStart) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  fill(conn, stream.subject(), 3);
  const auto info = rnats::ensure_consumer(conn, {.stream = stream.name(),
                                                  .from = rnats::ConsumeFrom::at_sequence(2),
                                                  .inactive_threshold = 10s,
                                                  .pull = true});
  EXPECT_FALSE(info.durable);
  EXPECT_FALSE(info.name.empty());
  rnats::Subscription sub(conn, stream.name(), info.name);
  EXPECT_EQ(drain(sub), (std::vector<std::string>{"1", "2"}));
  EXPECT_TRUE(rnats::delete_consumer(conn, stream.name(), info.name));
}

TEST(PullConsumer, ADeletedConsumerEndsItsSubscriptionWithNotFound) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  rnats::ensure_consumer(conn, {.stream = stream.name(), .name = "gone", .pull = true});
  rnats::Subscription sub(conn, stream.name(), "gone");
  EXPECT_FALSE(sub.next({}, 100ms));  // a pull request is waiting on the server now
  rnats::delete_consumer(conn, stream.name(), "gone");
  EXPECT_THROW(
      {
        const auto until = Clock::now() + 10s;
        while (Clock::now() < until) (void)sub.next({}, 500ms);
      },
      rnats::NotFound);
}

TEST(ConsumerUpdate, KeepsTheStartAndRefusesToSwitchBetweenPushAndPull) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  fill(conn, stream.subject(), 3);
  rnats::ensure_consumer(conn, {.stream = stream.name(),
                                .name = "d",
                                .from = rnats::ConsumeFrom::at_sequence(3),
                                .pull = true});
  // Declared again with another start and timeout: the timeout changes, the start stays.
  const auto again = rnats::ensure_consumer(conn, {.stream = stream.name(),
                                                   .name = "d",
                                                   .processing_timeout = 7s,
                                                   .from = rnats::ConsumeFrom::beginning(),
                                                   .pull = true});
  EXPECT_EQ(again.config.processing_timeout, 7s);
  EXPECT_EQ(again.config.from.kind, rnats::ConsumeFrom::Kind::sequence);
  rnats::Subscription sub(conn, stream.name(), "d");
  EXPECT_EQ(drain(sub), (std::vector<std::string>{"2"}));
  try {
    rnats::ensure_consumer(conn, {.stream = stream.name(), .name = "d"});
    FAIL() << "switched a pull consumer to push";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("between push and pull"), std::string::npos) << e.what();
  }
}

TEST(FilterSubjects, OneCoveringTheOthersIsTheServersFilter) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  const auto info =
      rnats::ensure_consumer(conn, {.stream = stream.name(),
                                    .name = "covered",
                                    .filter_subjects = {stream.subject("a"), stream.name() + ".*"},
                                    .pull = true});
  EXPECT_EQ(info.config.filter_subject, stream.name() + ".*");
  EXPECT_TRUE(info.config.filter_subjects.empty());
}

TEST(FilterSubjects, OthersAreFilteredByTheSubscriptionAndTheRestAcknowledged) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  for (const char* leaf : {"a", "b", "c", "a", "c.deep"}) {
    rnats::publish(conn, {.subject = stream.subject(leaf), .data = leaf});
  }
  const std::vector<std::string> wanted = {stream.subject("a"), stream.name() + ".c.>"};
  const auto info = rnats::ensure_consumer(conn, {.stream = stream.name(),
                                                  .name = "several",
                                                  .description = "mine",
                                                  .filter_subjects = wanted,
                                                  .pull = true});
  // What was declared comes back; the server's filter covers both.
  EXPECT_EQ(info.config.filter_subjects, wanted);
  EXPECT_EQ(info.config.description, "mine");
  rnats::Subscription sub(conn, stream.name(), "several");
  EXPECT_EQ(drain(sub), (std::vector<std::string>{"a", "a", "c.deep"}));
  EXPECT_EQ(sub.stats().filtered, 2u);  // "b" and "c"
  const auto after = rnats::consumer_info(conn, stream.name(), "several");
  EXPECT_EQ(after->ack_pending, 0);
  EXPECT_EQ(after->pending, 0u);
  // A push consumer filters alike.
  rnats::ensure_consumer(conn, {.stream = stream.name(),
                                .name = "several_push",
                                .filter_subjects = {stream.subject("b"), stream.subject("c")}});
  rnats::Subscription push(conn, stream.name(), "several_push");
  EXPECT_EQ(drain(push), (std::vector<std::string>{"b", "c"}));
}

}  // namespace
