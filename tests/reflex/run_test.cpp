#include "reflex/run.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "reflex/errors.hpp"
#include "reflex/mem_cursor_store.hpp"
#include "reflex/mem_log.hpp"
#include "reflex_test/durable_store.hpp"
#include "reflex_test/streams.hpp"
#include "reflex_test/wait.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using reflex_test::DurableStore;
using reflex_test::eventually;
using reflex_test::ids;
using reflex_test::recorded;
using reflex_test::SourceLog;

struct Fixture {
  reflex::MemLog log;
  std::shared_ptr<DurableStore> store = std::make_shared<DurableStore>();
  std::shared_ptr<SourceLog> source = std::make_shared<SourceLog>();  // what run asked the log
  std::vector<reflex::Event> seen;

  explicit Fixture(int events = 5) {
    for (int i = 1; i <= events; ++i) log.append(i % 3, "user-" + std::to_string(i));
  }

  reflex::Spec spec(reflex::ConsumeFunc fn = {}, reflex::ConsumerOptions options = {},
                    reflex::StreamOptions stream = {.to_head = true}) {
    if (!fn) fn = [this](std::stop_token, const reflex::Event& e) { seen.push_back(e); };
    return {.stream = recorded(log.stream_func(), source),
            .cursors = store,
            .consumer = reflex::make_consumer("consumer-1", std::move(fn), std::move(options)),
            .options = stream};
  }
};

TEST(Run, ConsumesEveryEventInOrderAndSetsTheCursor) {
  Fixture f;
  EXPECT_THROW(reflex::run({}, f.spec()), reflex::HeadReached);
  EXPECT_EQ(ids(f.seen), (std::vector<std::string>{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(f.store->durable("consumer-1"), "5");
}

TEST(Run, ResumesAfterTheStoredCursor) {
  Fixture f;
  f.store->set("consumer-1", "3");
  f.store->flush();
  EXPECT_THROW(reflex::run({}, f.spec()), reflex::HeadReached);
  EXPECT_EQ(ids(f.seen), (std::vector<std::string>{"4", "5"}));
}

TEST(Run, DoesNotAdvanceTheCursorPastAFailedEvent) {
  Fixture f;
  auto spec = f.spec([&](std::stop_token, const reflex::Event& e) {
    if (e.id == "3") throw std::runtime_error("cannot handle");
    f.seen.push_back(e);
  });
  try {
    reflex::run({}, spec);
    FAIL() << "expected ConsumeError";
  } catch (const reflex::ConsumeError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("consumer-1"), std::string::npos) << what;
    EXPECT_NE(what.find("id=3"), std::string::npos) << what;
    EXPECT_NE(what.find("user-3"), std::string::npos) << what;
    EXPECT_NE(what.find("cannot handle"), std::string::npos) << what;
    EXPECT_EQ(e.event_id(), "3");
  }
  // Flushed on the error path, with the last success only.
  EXPECT_EQ(f.store->durable("consumer-1"), "2");
  EXPECT_EQ(f.store->flushes(), 1);
  // A rerun retries the failed event first.
  f.seen.clear();
  EXPECT_THROW(reflex::run({}, f.spec()), reflex::HeadReached);
  EXPECT_EQ(ids(f.seen), (std::vector<std::string>{"3", "4", "5"}));
}

TEST(Run, FlushesCursorsWhenHeadReached) {
  Fixture f;
  EXPECT_THROW(reflex::run({}, f.spec()), reflex::HeadReached);
  EXPECT_EQ(f.store->flushes(), 1);
  EXPECT_EQ(f.store->durable("consumer-1"), "5");
}

TEST(Run, FlushesCursorsWhenStopped) {
  Fixture f(3);
  std::stop_source stop;
  std::atomic<int> consumed{0};
  auto spec = f.spec([&](std::stop_token, const reflex::Event&) { ++consumed; }, {}, {});
  std::jthread runner([&] { reflex::run(stop.get_token(), spec); });
  ASSERT_TRUE(eventually([&] { return consumed == 3; })) << consumed << " events consumed";
  stop.request_stop();
  runner.join();
  EXPECT_EQ(f.store->flushes(), 1);
  EXPECT_EQ(f.store->durable("consumer-1"), "3");
}

TEST(Run, FlushesCursorsWhenTheSourceFails) {
  Fixture f(2);
  std::atomic<int> consumed{0};
  auto spec = f.spec([&](std::stop_token, const reflex::Event&) { ++consumed; }, {}, {});
  std::jthread killer([&] {
    // Stopping the source even when the wait fails: run must not block forever.
    EXPECT_TRUE(eventually([&] { return consumed == 2; })) << consumed << " events consumed";
    f.log.stop_streams();
  });
  EXPECT_THROW(reflex::run({}, spec), reflex::Stopped);
  EXPECT_EQ(f.store->flushes(), 1);
  EXPECT_EQ(f.store->durable("consumer-1"), "2");
}

TEST(Run, ReturnsNormallyOnlyWhenStopWasRequested) {
  Fixture f(0);
  std::stop_source stop;
  auto spec = f.spec({}, {}, {});
  // Without a stop request a source going away is an error for the caller...
  std::jthread killer([&] {
    // stop_streams() ends the streams open at that moment: run's must be one of them.
    EXPECT_TRUE(eventually([&] { return f.source->opened == 1; })) << "run opened no stream";
    f.log.stop_streams();
  });
  EXPECT_THROW(reflex::run(stop.get_token(), spec), reflex::Stopped);
  killer.join();
  // ...with one, run returns normally.
  auto done = std::async(std::launch::async, [&] { reflex::run(stop.get_token(), spec); });
  EXPECT_TRUE(eventually([&] { return f.source->opened == 2; })) << "run opened no stream";
  stop.request_stop();
  ASSERT_EQ(done.wait_for(1s), std::future_status::ready);
  EXPECT_NO_THROW(done.get());
}

TEST(Run, StopInterruptsABlockedRecvWithin100ms) {
  Fixture f(0);
  std::stop_source stop;
  auto spec = f.spec({}, {}, {});
  auto done = std::async(std::launch::async, [&] { reflex::run(stop.get_token(), spec); });
  // Being blocked inside recv cannot be observed from here: the pause makes it so (an earlier
  // stop would only make the test easier to pass, not fail).
  std::this_thread::sleep_for(50ms);
  const auto requested = Clock::now();
  stop.request_stop();
  ASSERT_EQ(done.wait_for(1s), std::future_status::ready);
  const auto took = Clock::now() - requested;
  EXPECT_NO_THROW(done.get());
  EXPECT_LT(took, 100ms);
}

TEST(Run, HeadReachedIsDistinguishableFromFailures) {
  Fixture f(1);
  try {
    reflex::run({}, f.spec());
    FAIL() << "expected HeadReached";
  } catch (const reflex::HeadReached& e) {
    EXPECT_FALSE(e.retryable());
    EXPECT_FALSE(reflex::is_expected(e));
  }
}

TEST(Run, FilteredEventsAdvanceTheCursor) {
  Fixture f(6);  // types 1,2,0,1,2,0
  EXPECT_THROW(reflex::run({}, f.spec({}, {.include_types = {1}})), reflex::HeadReached);
  EXPECT_EQ(ids(f.seen), (std::vector<std::string>{"1", "4"}));
  EXPECT_EQ(f.store->durable("consumer-1"), "6");
}

TEST(Run, AFilterErrorStopsWithoutAdvancing) {
  Fixture f(3);
  auto spec = f.spec({}, {.filter = [](const reflex::Event& e) {
                       if (e.id == "2") throw std::runtime_error("filter broke");
                       return true;
                     }});
  try {
    reflex::run({}, spec);
    FAIL() << "expected an error";
  } catch (const reflex::ConsumeError& e) {
    EXPECT_NE(reflex::find_error<reflex::FilterError>(e), nullptr);
  }
  EXPECT_EQ(f.store->durable("consumer-1"), "1");
}

TEST(Run, RecoverySwallowingAnErrorAdvancesTheCursor) {
  Fixture f(3);
  auto spec = f.spec(
      [](std::stop_token, const reflex::Event& e) {
        if (e.id == "2") throw std::runtime_error("poison");
      },
      {.recover = [](std::stop_token, const reflex::Event&, std::exception_ptr) {
        return std::exception_ptr{};
      }});
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(f.store->durable("consumer-1"), "3");
}

TEST(Run, RecoveryReplacingAnErrorReportsTheReplacement) {
  Fixture f(3);
  auto spec = f.spec(
      [](std::stop_token, const reflex::Event& e) {
        if (e.id == "2") throw std::runtime_error("poison");
      },
      {.recover = [](std::stop_token, const reflex::Event&, std::exception_ptr) {
        return std::make_exception_ptr(reflex::Unavailable("downstream unavailable"));
      }});
  try {
    reflex::run({}, spec);
    FAIL() << "expected an error";
  } catch (const reflex::ConsumeError& e) {
    EXPECT_TRUE(e.retryable());
    EXPECT_NE(reflex::find_error<reflex::Unavailable>(e), nullptr);
  }
  EXPECT_EQ(f.store->durable("consumer-1"), "1");
}

TEST(Run, WaitsUntilEachEventIsOlderThanLag) {
  Fixture f(0);
  std::stop_source stop;
  std::vector<std::pair<reflex::Event, std::chrono::system_clock::time_point>> consumed;
  std::mutex mu;
  auto spec = f.spec(
      [&](std::stop_token, const reflex::Event& e) {
        std::lock_guard lock(mu);
        consumed.emplace_back(e, std::chrono::system_clock::now());
      },
      {}, {.lag = 300ms});
  // An old event goes through at once; a fresh one waits out the lag.
  f.log.append(reflex::Event{
      .type = 1, .foreign_id = "old", .timestamp = std::chrono::system_clock::now() - 1h});
  auto runner = std::async(std::launch::async, [&] { reflex::run(stop.get_token(), spec); });
  auto fresh = f.log.append(1, "fresh");
  (void)eventually([&] {
    std::lock_guard lock(mu);
    return consumed.size() == 2;
  });  // asserted below, once the run has stopped
  stop.request_stop();
  runner.get();
  ASSERT_EQ(consumed.size(), 2u);
  EXPECT_EQ(consumed[0].first.foreign_id, "old");
  EXPECT_EQ(consumed[1].first.id, fresh.id);
  EXPECT_GE(consumed[1].second - fresh.timestamp, 300ms);
  EXPECT_LT(consumed[1].second - fresh.timestamp, 2s);
}

TEST(Run, StopDuringALagWaitReturnsPromptlyWithoutConsuming) {
  Fixture f(0);
  f.log.append(1, "fresh");
  std::stop_source stop;
  auto spec = f.spec({}, {}, {.lag = 1h});
  auto runner = std::async(std::launch::async, [&] { reflex::run(stop.get_token(), spec); });
  // The event was read, so run waits for it to age.
  EXPECT_TRUE(eventually([&] { return f.source->received == 1; })) << "run read no event";
  stop.request_stop();
  ASSERT_EQ(runner.wait_for(1s), std::future_status::ready);
  runner.get();
  EXPECT_TRUE(f.seen.empty());
  EXPECT_EQ(f.store->durable("consumer-1"), "");
}

TEST(Run, ResetsTheConsumerBeforeStreaming) {
  class Counting final : public reflex::Consumer {
   public:
    const std::string& name() const noexcept override { return name_; }
    void consume(std::stop_token, const reflex::Event&) override { events_since_reset++; }
    void reset() override {
      resets++;
      events_since_reset = 0;
    }
    std::string name_ = "counting";
    int resets = 0;
    int events_since_reset = 0;
  };
  Fixture f(2);
  auto consumer = std::make_shared<Counting>();
  reflex::Spec spec{.stream = f.log.stream_func(),
                    .cursors = f.store,
                    .consumer = consumer,
                    .options = {.to_head = true}};
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(consumer->resets, 2);
  EXPECT_EQ(consumer->events_since_reset, 0);
}

TEST(Run, RejectsAnIncompleteSpec) {
  Fixture f;
  auto spec = f.spec();
  spec.cursors = nullptr;
  EXPECT_THROW(reflex::run({}, spec), reflex::ConfigError);
  spec = f.spec();
  spec.stream = nullptr;
  EXPECT_THROW(reflex::run({}, spec), reflex::ConfigError);
}

TEST(Run, ABadCursorIsReportedAsACursorError) {
  Fixture f;
  f.store->set("consumer-1", "not-a-number");
  f.store->flush();
  EXPECT_THROW(reflex::run({}, f.spec()), reflex::CursorError);
}

}  // namespace
