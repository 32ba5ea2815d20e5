// A lag out of range is a ConfigError wherever it is given, not an overflow that delivers at
// once (milliseconds::max() used to wrap around to a time in the past).

#include <gtest/gtest.h>

#include <chrono>
#include <limits>

#include "reflex/reflex.hpp"

namespace {

using namespace std::chrono_literals;

TEST(Lag, OutOfRangeIsAConfigErrorForRunAndForTheSourceItself) {
  reflex::MemLog log;
  log.append(1, "a");
  for (const auto lag :
       {std::chrono::milliseconds::max(), std::chrono::milliseconds(-1), reflex::kMaxLag + 1ms}) {
    reflex::Spec spec{
        .stream = log.stream_func(),
        .cursors = std::make_shared<reflex::MemCursorStore>(),
        .consumer = reflex::make_consumer(
            "c", [](const reflex::Event&) { ADD_FAILURE() << "delivered despite an absurd lag"; }),
        .options = {.lag = lag, .from_head = false, .to_head = true}};
    EXPECT_THROW(reflex::run({}, spec), reflex::ConfigError) << lag.count();
    EXPECT_THROW((void)log.stream_func()({}, "", spec.options), reflex::ConfigError);
  }
}

TEST(Lag, TheLongestAcceptedLagHoldsEveryEventBack) {
  reflex::MemLog log;
  log.append(1, "a");
  auto stream = log.stream_func()({}, "", {.lag = reflex::kMaxLag, .to_head = true});
  EXPECT_THROW((void)stream->recv(), reflex::HeadReached) << "a century-old lag delivers nothing";
}

}  // namespace
