// Stop requests end every runner promptly, and no thread is left behind.
#include <gtest/gtest.h>

#include <future>

#include "helpers.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_cursor_store.hpp"
#include "reflex/mem_log.hpp"
#include "reflex/rpatterns/rpatterns.hpp"
#include "reflex/wait.hpp"

namespace {

using namespace rpatterns_test;
namespace rp = reflex::rpatterns;

/// Counts consumed events per consumer name.
struct Progress {
  std::mutex mu;
  std::map<std::string, int> consumed;
  void add(const std::string& name) {
    std::lock_guard lock(mu);
    ++consumed[name];
  }
  int of(const std::string& name) {
    std::lock_guard lock(mu);
    return consumed[name];
  }
};

TEST(Stop, EveryPatternRunnerEndsPromptlyWithNoThreadLeftBehind) {
  const std::size_t baseline = thread_count();
  reflex::MemLog log;
  for (int i = 0; i < 3; ++i) log.append(1, "f" + std::to_string(i));
  auto cursors = std::make_shared<reflex::MemCursorStore>();
  Progress progress;
  auto counting = [&](const std::string& name) {
    return reflex::make_consumer(name,
                                 [&progress, name](const reflex::Event&) { progress.add(name); });
  };
  auto failing = [&](const std::string& name) {
    return reflex::make_consumer(name, [&progress, name](const reflex::Event&) {
      progress.add(name);
      throw std::runtime_error("always fails");
    });
  };

  std::vector<reflex::Spec> specs;
  specs.push_back({.stream = log.stream_func(), .cursors = cursors, .consumer = counting("plain")});
  specs.push_back(rp::bootstrap(reflex::Spec{
      .stream = log.stream_func(), .cursors = cursors, .consumer = counting("bootstrapped")}));
  specs.push_back(rp::batch_spec(log.stream_func(), cursors, "batch",
                                 [&](std::stop_token, std::span<const reflex::Event> b) {
                                   for (std::size_t i = 0; i < b.size(); ++i) progress.add("batch");
                                 },
                                 {.max_size = 2, .window = 1h, .filter = {}, .stream = {}}));
  // Consumers that block until stopped, as slow calls to other services do.
  specs.push_back(rp::concurrent(
      {.stream = log.stream_func(),
       .cursors = cursors,
       .consumer = reflex::make_consumer("concurrent",
                                         [&](std::stop_token stop, const reflex::Event&) {
                                           progress.add("concurrent");
                                           (void)reflex::sleep_for(stop, 1h);
                                         })},
      {.max_in_flight = 4}));
  for (auto& spec : rp::parallel_specs(
           "parallel", 3, log.stream_func(), cursors,
           [&](std::stop_token, const reflex::Event&) { progress.add("parallel"); })) {
    specs.push_back(std::move(spec));
  }
  specs.push_back({.stream = rp::poller(
                       [&](std::stop_token, std::string_view after) {
                         const auto from = after.empty() ? 0 : std::stoul(std::string(after));
                         return log.events(from + 1, 2);
                       },
                       {.idle_backoff = 1h, .max_idle_backoff = 1h, .head = {}}),
                   .cursors = cursors,
                   .consumer = counting("polled")});
  specs.push_back({.stream = log.stream_func(),
                   .cursors = cursors,
                   .consumer = rp::best_effort(failing("best-effort"),
                                               {.retries = 10, .retry_delay = 1h, .log = {}})});
  specs.push_back({.stream = log.stream_func(),
                   .cursors = cursors,
                   .consumer = rp::dead_letter(failing("dead-letter"),
                                               [](std::stop_token, const rp::DeadLetter&) {},
                                               {.retries = 10, .retry_delay = 1h})});
  specs.push_back({.stream = log.stream_func(),
                   .cursors = cursors,
                   .consumer = failing("backing-off")});  // run_forever waits its error backoff

  std::optional<rp::Runner> runner;
  runner.emplace(
      specs, rp::RunForeverOptions{.retry_backoff = 1h, .error_backoff = 1h, .log = [](auto) {}});
  std::stop_source await_stop;
  auto awaiting = std::async(std::launch::async, [&] {
    return rp::await(await_stop.get_token(), log.stream_func(),
                     {.foreign_id = "nobody",
                      .types = {},
                      .condition = [](std::stop_token) { return false; },
                      .poll_interval = 1h});
  });

  // Every runner is busy: consuming, blocked in a consumer, in a retry wait or a backoff.
  ASSERT_TRUE(eventually([&] {
    return progress.of("plain") == 3 && progress.of("bootstrapped") == 0 &&
           progress.of("batch") == 2 && progress.of("concurrent") == 3 &&
           progress.of("parallel") == 3 && progress.of("polled") == 3 &&
           progress.of("best-effort") == 1 && progress.of("dead-letter") == 1 &&
           progress.of("backing-off") == 1;
  })) << "runners did not start";
  std::this_thread::sleep_for(20ms);  // and into their waits (not observable from here)

  const auto start = Clock::now();
  await_stop.request_stop();
  runner.reset();
  EXPECT_THROW((void)awaiting.get(), reflex::Canceled);
  const auto elapsed = Clock::now() - start;
  EXPECT_LT(elapsed, 1s) << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()
                         << " ms";
  EXPECT_TRUE(threads_back_to(baseline)) << thread_count() << " threads, baseline " << baseline;
  // Nothing was skipped or recorded by a stop: the failing events stay before the cursor.
  EXPECT_EQ(cursors->get("best-effort"), "");
  EXPECT_EQ(cursors->get("dead-letter"), "");
}

}  // namespace
