// luno/reflex's bad-cursor status seen through run_forever: not retried (needs reflex::rpatterns).
#include <gtest/gtest.h>

#include <reflex/reflex.hpp>
#include <reflex/rpatterns/run_forever.hpp>
#include <string>
#include <thread>
#include <vector>

#include "fixed_status.hpp"
#include "reflex_test/lines.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using rgrpc_test::FixedStatusServer;
using rgrpc_test::luno_invalid_cursor;

TEST(WireCompatibility, RunForeverDoesNotRetryALunoReflexBadCursor) {
  FixedStatusServer server(luno_invalid_cursor(true));
  reflex_test::LogLines lines;
  const reflex::Spec spec{
      .stream = server.stream(),
      .cursors = std::make_shared<reflex::MemCursorStore>(),
      .consumer = reflex::make_consumer("billing", [](const reflex::Event&) {})};
  std::jthread runner([&](std::stop_token stop) {
    (void)reflex::rpatterns::run_forever(
        stop, spec, {.retry_backoff = 5ms, .error_backoff = 1h, .log = lines.func()});
  });
  ASSERT_TRUE(rgrpc_test::eventually([&] { return lines.size() > 0; }));
  // A retryable error would be retried after 5, 10, 20, 40, 80 ms...: none of that may happen
  // within this window.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(server.service.calls(), 1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines.at(0).find("retrying in 3600000ms"), std::string::npos) << lines.at(0);
  EXPECT_NE(lines.at(0).find("invalid id, only int supported"), std::string::npos) << lines.at(0);
  runner.request_stop();  // wakes the hour-long wait at once
}

}  // namespace
