#include "reflex/rpatterns/await.hpp"

#include <gtest/gtest.h>

#include <future>

#include "helpers.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"

namespace {

using namespace rpatterns_test;
namespace rp = reflex::rpatterns;

TEST(Await, ReturnsWhenAnEventForTheEntityWithOneOfTheTypesArrives) {
  reflex::MemLog log;
  log.append(2, "order-1");  // history does not count
  const std::size_t baseline = thread_count();
  auto source = std::make_shared<SourceLog>();
  std::jthread producer([&] {
    if (!eventually([&] { return source->opened == 1; })) return;  // await then times out
    log.append(2, "order-2");                                      // another entity
    log.append(1, "order-1");                                      // another type
    log.append(3, "order-1");                                      // a match
  });
  const auto result = rp::await(
      {}, recorded(log.stream_func(), source),
      {.foreign_id = "order-1", .types = {2, 3}, .condition = {}, .deadline = Clock::now() + 10s});
  EXPECT_EQ(result, rp::AwaitResult::event);
  producer.join();
  EXPECT_TRUE(threads_back_to(baseline));
}

TEST(Await, ReturnsWhenThePolledConditionHolds) {
  reflex::MemLog log;
  std::atomic<int> polls{0};
  const auto start = Clock::now();
  const auto result = rp::await({}, log.stream_func(),
                                {.foreign_id = "x",
                                 .types = {},
                                 .condition = [&](std::stop_token) { return ++polls == 3; },
                                 .poll_interval = 10ms});
  EXPECT_EQ(result, rp::AwaitResult::condition);
  EXPECT_EQ(polls.load(), 3);
  EXPECT_GE(Clock::now() - start, 20ms);
}

TEST(Await, TimesOutAtTheDeadline) {
  reflex::MemLog log;
  const auto start = Clock::now();
  const auto result = rp::await({}, log.stream_func(),
                                {.foreign_id = "x",
                                 .types = {},
                                 .condition = [](std::stop_token) { return false; },
                                 .poll_interval = 10ms,
                                 .deadline = Clock::now() + 60ms});
  EXPECT_EQ(result, rp::AwaitResult::timed_out);
  EXPECT_GE(Clock::now() - start, 60ms);
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(Await, AStopRequestEndsItWithCanceled) {
  reflex::MemLog log;
  std::stop_source stop;
  auto source = std::make_shared<SourceLog>();
  auto done = std::async(std::launch::async, [&] {
    return rp::await(stop.get_token(), recorded(log.stream_func(), source), {.foreign_id = "x"});
  });
  EXPECT_TRUE(eventually([&] { return source->opened == 1; })) << "await opened no stream";
  const auto start = Clock::now();
  stop.request_stop();
  ASSERT_EQ(done.wait_for(2s), std::future_status::ready);
  EXPECT_THROW((void)done.get(), reflex::Canceled);
  EXPECT_LT(Clock::now() - start, 500ms);
}

TEST(Await, PassesOnErrorsOfTheStreamAndTheCondition) {
  reflex::MemLog log;
  reflex::StreamFunc broken = [](std::stop_token, std::string_view, const reflex::StreamOptions&)
      -> std::unique_ptr<reflex::StreamClient> { throw reflex::Unavailable("no route to events"); };
  EXPECT_THROW((void)rp::await({}, broken, {.foreign_id = "x"}), reflex::Unavailable);
  EXPECT_THROW((void)rp::await({}, log.stream_func(),
                               {.foreign_id = "x",
                                .types = {},
                                .condition = [](std::stop_token) -> bool {
                                  throw std::runtime_error("state lookup failed");
                                }}),
               std::runtime_error);
}

TEST(Await, PollsOnlyOnceTheStreamIsOpen) {
  reflex::MemLog log;
  std::atomic<bool> open{false};
  reflex::StreamFunc slow_open = [&](std::stop_token stop, std::string_view after,
                                     const reflex::StreamOptions& o) {
    std::this_thread::sleep_for(40ms);  // the slow open is what is tested
    open = true;
    return log.stream_func()(std::move(stop), after, o);
  };
  std::atomic<bool> polled_before_open{false};
  const auto result =
      rp::await({}, slow_open, {.foreign_id = "x", .types = {}, .condition = [&](std::stop_token) {
                                  if (!open) polled_before_open = true;
                                  return true;
                                }});
  EXPECT_EQ(result, rp::AwaitResult::condition);
  EXPECT_FALSE(polled_before_open.load());
}

}  // namespace
