#include "reflex/rpatterns/run_forever.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>

#include "helpers.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_cursor_store.hpp"
#include "reflex/mem_log.hpp"

namespace {

using namespace rpatterns_test;
namespace rp = reflex::rpatterns;

/// A consumer that records events and counts its hooks.
class Recording final : public reflex::Consumer {
 public:
  explicit Recording(std::function<void(const reflex::Event&)> fn = {}) : fn_(std::move(fn)) {}
  const std::string& name() const noexcept override { return name_; }
  void consume(std::stop_token, const reflex::Event& e) override {
    if (fn_) fn_(e);
    std::lock_guard lock(mu_);
    seen_.push_back(e);
  }
  void reset() override { ++resets; }
  void stop() override { ++stops; }
  std::vector<reflex::Event> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::atomic<int> resets{0};
  std::atomic<int> stops{0};

 private:
  std::string name_ = "recording";
  std::function<void(const reflex::Event&)> fn_;
  std::mutex mu_;
  std::vector<reflex::Event> seen_;
};

TEST(RunForever, BacksOffAndRecoversWhenAFlakySourceHeals) {
  reflex::MemLog log;
  for (int i = 0; i < 5; ++i) log.append(1, "f" + std::to_string(i));
  auto opens = std::make_shared<std::atomic<int>>(0);
  auto consumer = std::make_shared<Recording>();
  reflex::Spec spec{
      .stream = failing_opens(
          log.stream_func(), 3, [] { throw reflex::Unavailable("database is restarting"); }, opens),
      .cursors = std::make_shared<reflex::MemCursorStore>(),
      .consumer = consumer,
      .options = {.to_head = true}};
  LogLines lines;
  const auto start = Clock::now();
  const auto end =
      rp::run_forever({}, spec, {.retry_backoff = 30ms, .error_backoff = 1h, .log = lines.func()});
  const auto elapsed = Clock::now() - start;

  EXPECT_EQ(end, rp::RunEnd::head_reached);
  EXPECT_EQ(opens->load(), 4);
  EXPECT_GE(elapsed, 90ms);  // three short backoffs, never the long one
  EXPECT_LT(elapsed, 5s);
  EXPECT_EQ(ids(consumer->seen()), range_ids(1, 5));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines.at(0).find("database is restarting"), std::string::npos) << lines.at(0);
  EXPECT_NE(lines.at(0).find("\"recording\""), std::string::npos) << lines.at(0);
  EXPECT_EQ(consumer->stops.load(), 4);  // after each of the three failed runs and the last
}

TEST(RunForever, DoublesTheRetryBackoffWhileAnOutageLastsUpToTheErrorBackoff) {
  reflex::MemLog log;
  log.append(1, "a");
  auto opens = std::make_shared<std::atomic<int>>(0);
  auto consumer = std::make_shared<Recording>();
  reflex::Spec spec{.stream = failing_opens(
                        log.stream_func(), 4, [] { throw reflex::Unavailable("down"); }, opens),
                    .cursors = std::make_shared<reflex::MemCursorStore>(),
                    .consumer = consumer,
                    .options = {.to_head = true}};
  LogLines lines;
  EXPECT_EQ(rp::run_forever({}, spec,
                            {.retry_backoff = 10ms, .error_backoff = 40ms, .log = lines.func()}),
            rp::RunEnd::head_reached);
  ASSERT_EQ(lines.size(), 4u);
  const char* expected[] = {"retrying in 10ms", "retrying in 20ms", "retrying in 40ms",
                            "retrying in 40ms"};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NE(lines.at(i).find(expected[i]), std::string::npos) << lines.at(i);
  }
}

TEST(RunForever, StartsTheRetryBackoffOverAfterARunThatMadeProgress) {
  reflex::MemLog log;
  for (int i = 0; i < 4; ++i) log.append(1, "f");
  std::set<std::string> failed;
  auto consumer = std::make_shared<Recording>([&](const reflex::Event& e) {
    if (e.id_int() % 2 == 0 && failed.insert(e.id).second) throw reflex::Unavailable("blip");
  });
  reflex::Spec spec{.stream = log.stream_func(),
                    .cursors = std::make_shared<reflex::MemCursorStore>(),
                    .consumer = consumer,
                    .options = {.to_head = true}};
  LogLines lines;
  EXPECT_EQ(
      rp::run_forever({}, spec, {.retry_backoff = 5ms, .error_backoff = 1h, .log = lines.func()}),
      rp::RunEnd::head_reached);
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& line : lines.all()) {
    EXPECT_NE(line.find("retrying in 5ms"), std::string::npos) << line;
  }
  EXPECT_EQ(ids(consumer->seen()), range_ids(1, 4));
}

TEST(RunForever, WaitsTheLongBackoffAfterANonRetryableError) {
  reflex::MemLog log;
  for (int i = 0; i < 3; ++i) log.append(1, "f");
  std::atomic<int> failures{0};
  auto consumer = std::make_shared<Recording>([&](const reflex::Event& e) {
    if (e.id == "2" && failures.fetch_add(1) == 0) throw std::runtime_error("bug on event 2");
  });
  reflex::Spec spec{.stream = log.stream_func(),
                    .cursors = std::make_shared<reflex::MemCursorStore>(),
                    .consumer = consumer,
                    .options = {.to_head = true}};
  LogLines lines;
  const auto start = Clock::now();
  EXPECT_EQ(rp::run_forever({}, spec,
                            {.retry_backoff = 1ms, .error_backoff = 150ms, .log = lines.func()}),
            rp::RunEnd::head_reached);
  EXPECT_GE(Clock::now() - start, 150ms);
  // Event 2 failed once and was retried; nothing was skipped or repeated otherwise.
  EXPECT_EQ(ids(consumer->seen()), (std::vector<std::string>{"1", "2", "3"}));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines.at(0).find("bug on event 2"), std::string::npos);
  EXPECT_NE(lines.at(0).find("150ms"), std::string::npos);
}

TEST(RunForever, RetriesExpectedErrorsQuicklyWithoutLogging) {
  reflex::MemLog log;
  log.append(1, "a");
  auto consumer = std::make_shared<Recording>();
  reflex::Spec spec{.stream = log.stream_func(),
                    .cursors = std::make_shared<reflex::MemCursorStore>(),
                    .consumer = consumer};
  LogLines lines;
  std::stop_source stop;
  std::thread runner([&] {
    (void)rp::run_forever(stop.get_token(), spec,
                          {.retry_backoff = 5ms, .error_backoff = 1h, .log = lines.func()});
  });
  ASSERT_TRUE(eventually([&] { return consumer->seen().size() == 1; }));
  log.stop_streams();  // the source goes away: Stopped, an expected error
  ASSERT_TRUE(eventually([&] { return consumer->resets.load() >= 2; }));
  log.append(1, "b");
  ASSERT_TRUE(eventually([&] { return consumer->seen().size() == 2; }));
  stop.request_stop();
  runner.join();
  EXPECT_EQ(ids(consumer->seen()), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(lines.size(), 0u);
}

TEST(RunForever, ReturnsPromptlyWhenStoppedDuringTheLongBackoff) {
  reflex::MemLog log;
  log.append(1, "a");
  auto consumer = std::make_shared<Recording>(
      [](const reflex::Event&) { throw std::runtime_error("always fails"); });
  reflex::Spec spec{.stream = log.stream_func(),
                    .cursors = std::make_shared<reflex::MemCursorStore>(),
                    .consumer = consumer};
  std::stop_source stop;
  auto done = std::async(std::launch::async, [&] {
    return rp::run_forever(stop.get_token(), spec,
                           {.retry_backoff = 1ms, .error_backoff = 1h, .log = [](auto) {}});
  });
  ASSERT_TRUE(eventually([&] { return consumer->stops.load() >= 1; }));
  const auto start = Clock::now();
  stop.request_stop();
  ASSERT_EQ(done.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(done.get(), rp::RunEnd::stopped);
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST(RunForever, RejectsAnIncompleteSpecAtOnce) {
  reflex::Spec spec{.stream = {}, .cursors = {}, .consumer = {}};
  EXPECT_THROW((void)rp::run_forever({}, spec), reflex::ConfigError);
  EXPECT_THROW(rp::Runner{spec}, reflex::ConfigError);
}

TEST(Runner, RunsEverySpecUntilTheyReachHead) {
  reflex::MemLog log;
  for (int i = 0; i < 10; ++i) log.append(1, "f");
  auto cursors = std::make_shared<reflex::MemCursorStore>();
  std::vector<std::shared_ptr<Recording>> consumers;
  std::vector<reflex::Spec> specs;
  for (int i = 0; i < 3; ++i) {
    consumers.push_back(std::make_shared<Recording>());
    // Distinct cursor names are not needed here: each consumer reads the whole log.
    specs.push_back({.stream = log.stream_func(),
                     .cursors = std::make_shared<reflex::MemCursorStore>(),
                     .consumer = consumers.back(),
                     .options = {.to_head = true}});
  }
  rp::Runner runner(specs);
  EXPECT_EQ(runner.size(), 3u);
  runner.join();
  for (auto& c : consumers) EXPECT_EQ(ids(c->seen()), range_ids(1, 10));
}

TEST(Runner, DestructorStopsEveryRunAndJoinsItsThreads) {
  const std::size_t baseline = thread_count();
  reflex::MemLog log;
  log.append(1, "a");
  std::vector<std::shared_ptr<Recording>> consumers;
  std::vector<reflex::Spec> specs;
  for (int i = 0; i < 4; ++i) {
    consumers.push_back(std::make_shared<Recording>());
    specs.push_back({.stream = log.stream_func(),
                     .cursors = std::make_shared<reflex::MemCursorStore>(),
                     .consumer = consumers.back()});
  }
  Clock::time_point start;
  {
    rp::Runner runner(specs);
    EXPECT_EQ(thread_count(), baseline + 4);
    ASSERT_TRUE(eventually([&] {
      for (auto& c : consumers) {
        if (c->seen().size() != 1) return false;
      }
      return true;
    }));
    start = Clock::now();
  }
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_TRUE(threads_back_to(baseline)) << thread_count() << " threads, baseline " << baseline;
  for (auto& c : consumers) EXPECT_EQ(c->stops.load(), 1);
}

}  // namespace
