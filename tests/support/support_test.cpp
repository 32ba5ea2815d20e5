// The test helpers' own promises, where breaking one would not fail the tests that use it but
// make them wait for nothing or act on the wrong thing (an environment override that does not
// win sent scripts/services to clean the test run's own servers).

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>

#include "reflex_test/lines.hpp"
#include "reflex_test/process.hpp"
#include "reflex_test/wait.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(Eventually, ReturnsAsSoonAsTheConditionHoldsAndFalseAtTheDeadline) {
  int polls = 0;
  EXPECT_TRUE(reflex_test::eventually([&] { return ++polls == 3; }));
  EXPECT_EQ(polls, 3);
  const auto start = Clock::now();
  EXPECT_FALSE(reflex_test::eventually([] { return false; }, 50ms));
  EXPECT_GE(Clock::now() - start, 50ms);
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST(Process, CollectsOutputAndTheExitStatusAndFeedsItsInput) {
  reflex_test::Process cat({"sh", "-c", "cat; echo oops >&2; exit 3"}, {.input = "a\nb\n"});
  EXPECT_EQ(cat.wait(10s), 3);
  EXPECT_EQ(reflex_test::lines(cat.out()), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(cat.err(), "oops\n");
  EXPECT_EQ(cat.wait(0ms), 3) << "the status is kept";
}

TEST(Process, AnEnvironmentEntryReplacesTheTestsOwnValue) {
  ::setenv("REFLEX_TEST_SUPPORT_PROBE", "the test's", 1);
  reflex_test::Process sh({"sh", "-c", "echo \"$REFLEX_TEST_SUPPORT_PROBE\"; env | grep -c PROBE="},
                          {.env = {"REFLEX_TEST_SUPPORT_PROBE=given"}});
  EXPECT_EQ(sh.wait(10s), 0);
  EXPECT_EQ(sh.out(), "given\n1\n") << "the child must see one value, the given one";
  ::unsetenv("REFLEX_TEST_SUPPORT_PROBE");
}

TEST(Process, WaitTimesOutOnARunningChildAndKillReapsIt) {
  reflex_test::Process sleeper({"sleep", "60"});
  EXPECT_EQ(sleeper.wait(20ms), -1);
  EXPECT_EQ(sleeper.wait_for_out("never", 20ms), "");
  const auto start = Clock::now();
  EXPECT_EQ(sleeper.kill(), 128 + 9);
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST(Process, WaitsForOutputByPatternAndIsNotHeldByAProcessTheChildLeftBehind) {
  // `sleep` is a grandchild here (`; true` keeps sh from exec'ing it): it holds the pipe.
  reflex_test::Process echo({"sh", "-c", "echo 'listening on port 4711'; sleep 2; true"});
  EXPECT_EQ(echo.wait_for_out("port ([0-9]+)"), "4711");
  const auto start = Clock::now();
  EXPECT_EQ(echo.kill(), 128 + 9);
  EXPECT_LT(Clock::now() - start, 2s) << "waited for the grandchild's end of the pipe";
}

TEST(Process, AProgramThatCannotBeStartedThrows) {
  EXPECT_THROW(reflex_test::Process({"/nonexistent/program"}), std::system_error);
}

}  // namespace
