#include "reflex/rpatterns/retry.hpp"

#include <gtest/gtest.h>

#include <future>

#include "helpers.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"
#include "reflex/run.hpp"

namespace {

using namespace rpatterns_test;
namespace rp = reflex::rpatterns;

/// A log of `n` events with foreign ids "f1".."fn", a store, and attempt counts per event.
struct Fixture : LogAndStore {
  using LogAndStore::LogAndStore;
  std::map<std::string, int> attempts;
  std::vector<std::string> done;

  /// A consumer that fails event `bad` `failures` times (-1: always).
  std::shared_ptr<reflex::Consumer> consumer(const std::string& bad, int failures) {
    return reflex::make_consumer("mailer", [this, bad, failures](const reflex::Event& e) {
      const int n = ++attempts[e.id];
      if (e.id == bad && (failures < 0 || n <= failures)) {
        throw std::runtime_error("smtp rejected " + e.id);
      }
      done.push_back(e.id);
    });
  }
  reflex::Spec spec(std::shared_ptr<reflex::Consumer> c) {
    return {.stream = log.stream_func(),
            .cursors = store,
            .consumer = std::move(c),
            .options = {.to_head = true}};
  }
};

TEST(BestEffort, RetriesThenSkipsTheEventLoggedAndCounted) {
  Fixture f(4);
  LogLines lines;
  auto consumer =
      rp::best_effort(f.consumer("2", -1), {.retries = 2, .retry_delay = 1ms, .log = lines.func()});
  EXPECT_THROW(reflex::run({}, f.spec(consumer)), reflex::HeadReached);
  EXPECT_EQ(f.attempts["2"], 3);  // the first attempt and two retries
  EXPECT_EQ(f.done, (std::vector<std::string>{"1", "3", "4"}));
  EXPECT_EQ(consumer->skipped(), 1u);
  EXPECT_EQ(f.store->durable("mailer"), "4");
  ASSERT_EQ(lines.size(), 1u);
  const auto line = lines.at(0);
  EXPECT_NE(line.find("\"mailer\""), std::string::npos) << line;
  EXPECT_NE(line.find("id=2"), std::string::npos) << line;
  EXPECT_NE(line.find("foreign_id=f2"), std::string::npos) << line;
  EXPECT_NE(line.find("3 attempts"), std::string::npos) << line;
  EXPECT_NE(line.find("smtp rejected 2"), std::string::npos) << line;
}

TEST(BestEffort, AnEventThatSucceedsOnARetryIsNotSkipped) {
  Fixture f(3);
  auto consumer =
      rp::best_effort(f.consumer("2", 1), {.retries = 1, .retry_delay = 1ms, .log = [](auto) {}});
  EXPECT_THROW(reflex::run({}, f.spec(consumer)), reflex::HeadReached);
  EXPECT_EQ(f.done, range_ids(1, 3));
  EXPECT_EQ(consumer->skipped(), 0u);
}

TEST(BestEffort, AStopRequestDuringRetriesSkipsNothing) {
  Fixture f(3);
  auto consumer =
      rp::best_effort(f.consumer("2", -1), {.retries = 5, .retry_delay = 1h, .log = [](auto) {}});
  std::stop_source stop;
  auto spec = f.spec(consumer);
  spec.options.to_head = false;
  auto done = std::async(std::launch::async, [&] { reflex::run(stop.get_token(), spec); });
  ASSERT_TRUE(eventually([&] { return f.store->sets() >= 1; }));  // event 1 done, 2 failing
  std::this_thread::sleep_for(10ms);  // event 2 failed and waits its retry delay (not observable)
  stop.request_stop();
  ASSERT_EQ(done.wait_for(2s), std::future_status::ready);
  done.get();
  EXPECT_EQ(consumer->skipped(), 0u);
  EXPECT_EQ(f.store->durable("mailer"), "1");
}

TEST(DeadLetter, RecordsTheFailureWithNamedFieldsAndMovesOn) {
  Fixture f(3);
  std::vector<rp::DeadLetter> letters;
  auto consumer = rp::dead_letter(
      f.consumer("2", -1),
      [&](std::stop_token, const rp::DeadLetter& letter) { letters.push_back(letter); },
      {.retries = 1, .retry_delay = 1ms});
  EXPECT_THROW(reflex::run({}, f.spec(consumer)), reflex::HeadReached);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].consumer, "mailer");
  EXPECT_EQ(letters[0].event.id, "2");
  EXPECT_EQ(letters[0].event.foreign_id, "f2");
  EXPECT_EQ(letters[0].error, "smtp rejected 2");
  EXPECT_EQ(letters[0].attempts, 2u);
  EXPECT_EQ(consumer->recorded(), 1u);
  EXPECT_EQ(f.done, (std::vector<std::string>{"1", "3"}));
  EXPECT_EQ(f.store->durable("mailer"), "3");
}

TEST(DeadLetter, AFailedRecordingFailsTheRunOnTheEvent) {
  Fixture f(3);
  auto consumer = rp::dead_letter(f.consumer("2", -1),
                                  [&](std::stop_token, const rp::DeadLetter&) {
                                    throw reflex::Unavailable("errors table unreachable");
                                  },
                                  {.retries = 0, .retry_delay = 1ms});
  try {
    reflex::run({}, f.spec(consumer));
    FAIL() << "expected the run to fail";
  } catch (const reflex::ConsumeError& e) {
    EXPECT_EQ(e.event_id(), "2");
    const auto* dead = reflex::find_error<rp::DeadLetterError>(e);
    ASSERT_NE(dead, nullptr);
    EXPECT_TRUE(e.retryable());  // the recorder's error decides: retry the run soon
    const std::string what = dead->what();
    EXPECT_NE(what.find("errors table unreachable"), std::string::npos) << what;
    EXPECT_NE(what.find("smtp rejected 2"), std::string::npos) << what;
    EXPECT_NE(reflex::find_error<std::runtime_error>(dead->consume_error()), nullptr);
  }
  EXPECT_EQ(consumer->recorded(), 0u);
  EXPECT_EQ(f.store->durable("mailer"), "1");
}

TEST(DeadLetter, RejectsAMissingRecorderOrConsumer) {
  Fixture f(1);
  EXPECT_THROW((void)rp::dead_letter(f.consumer("x", 0), {}), reflex::ConfigError);
  EXPECT_THROW((void)rp::dead_letter(nullptr, [](std::stop_token, const rp::DeadLetter&) {}),
               reflex::ConfigError);
  EXPECT_THROW((void)rp::best_effort(nullptr), reflex::ConfigError);
}

}  // namespace
