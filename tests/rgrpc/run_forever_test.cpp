// luno/reflex's bad-cursor status seen through run_forever: not retried (needs reflex::rpatterns).
#include <gtest/gtest.h>

#include <mutex>
#include <reflex/reflex.hpp>
#include <reflex/rpatterns/run_forever.hpp>
#include <string>
#include <thread>
#include <vector>

#include "fixed_status.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using rgrpc_test::FixedStatusServer;
using rgrpc_test::luno_invalid_cursor;

TEST(WireCompatibility, RunForeverDoesNotRetryALunoReflexBadCursor) {
  FixedStatusServer server(luno_invalid_cursor(true));
  std::mutex mu;
  std::vector<std::string> lines;
  const reflex::Spec spec{
      .stream = server.stream(),
      .cursors = std::make_shared<reflex::MemCursorStore>(),
      .consumer = reflex::make_consumer("billing", [](const reflex::Event&) {})};
  std::jthread runner([&](std::stop_token stop) {
    (void)reflex::rpatterns::run_forever(
        stop, spec, {.retry_backoff = 5ms, .error_backoff = 1h, .log = [&](std::string_view line) {
                       std::lock_guard lock(mu);
                       lines.emplace_back(line);
                     }});
  });
  ASSERT_TRUE(rgrpc_test::eventually([&] {
    std::lock_guard lock(mu);
    return !lines.empty();
  }));
  // A retryable error would be retried after 5, 10, 20, 40, 80 ms...: none of that.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(server.service.calls(), 1);
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("retrying in 3600000ms"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("invalid id, only int supported"), std::string::npos) << lines[0];
  }
  runner.request_stop();  // wakes the hour-long wait at once
}

}  // namespace
