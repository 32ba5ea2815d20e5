// The harness's medians, quartiles and rounds: what every benchmark row's ratio and spread are.
#include "harness.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

namespace {

TEST(Spread, IsTheMedianAndQuartilesInterpolatedBetweenRanks) {
  // numpy.percentile([1, 2, 3, 4], [25, 50, 75]) == [1.75, 2.5, 3.25]
  const auto s = bench::spread({4, 1, 3, 2});
  EXPECT_DOUBLE_EQ(s.median, 2.5);
  EXPECT_DOUBLE_EQ(s.q1, 1.75);
  EXPECT_DOUBLE_EQ(s.q3, 3.25);
  EXPECT_DOUBLE_EQ(s.iqr(), 1.5);
}

TEST(Spread, OfAnOddCountTakesTheMiddleValues) {
  const auto s = bench::spread({5, 1, 9, 3, 7});
  EXPECT_DOUBLE_EQ(s.median, 5);
  EXPECT_DOUBLE_EQ(s.q1, 3);
  EXPECT_DOUBLE_EQ(s.q3, 7);
}

TEST(Spread, OfOneValueIsThatValueWithNoSpread) {
  const auto s = bench::spread({0.9});
  EXPECT_DOUBLE_EQ(s.median, 0.9);
  EXPECT_DOUBLE_EQ(s.iqr(), 0);
}

TEST(Spread, OfNothingIsZero) {
  EXPECT_DOUBLE_EQ(bench::spread({}).median, 0);
  EXPECT_DOUBLE_EQ(bench::median({}), 0);
}

TEST(Compare, RotatesWhichVariantGoesFirstFromRoundToRound) {
  bench::Config cfg;
  cfg.rounds = 6;
  std::string order;
  const auto c =
      bench::compare(cfg, {[&] { return order += 'a', 1.0; }, [&] { return order += 'b', 2.0; },
                           [&] { return order += 'c', 3.0; }});
  EXPECT_EQ(order, "abcbcacababcbcacab");
  EXPECT_EQ(c.rounds(), 6);
}

TEST(Compare, TakesTheRatioRoundByRound) {
  // The machine slows down eightfold over the rounds, raw and reflex alike: every round's ratio
  // is still 0.5, with no spread, while the figures themselves spread widely.
  bench::Config cfg;
  cfg.rounds = 5;
  const std::vector<double> raw = {8, 6, 4, 2, 1};
  int a = 0, b = 0;
  const auto c = bench::compare(cfg, {[&] { return raw[static_cast<std::size_t>(a++)]; },
                                      [&] { return raw[static_cast<std::size_t>(b++)] / 2; }});
  EXPECT_DOUBLE_EQ(c.ratio(1).median, 0.5);
  EXPECT_DOUBLE_EQ(c.ratio(1).iqr(), 0);
  EXPECT_DOUBLE_EQ(c.ratio(0, 1).median, 2);
  EXPECT_DOUBLE_EQ(c.value(0).median, 4);
  EXPECT_DOUBLE_EQ(c.value(0).iqr(), 4);
}

TEST(Compare, TakesEveryRoundThatFitsTheBudget) {
  bench::Config cfg;
  cfg.quick = true;
  int calls = 0;
  const auto c = bench::compare(cfg, {[&] {
                                  ++calls;
                                  return 1.0;
                                }});
  EXPECT_EQ(c.rounds(), cfg.max_rounds());
  EXPECT_EQ(calls, cfg.max_rounds());
  EXPECT_GE(c.rounds(), bench::kMinRounds);
}

TEST(Compare, StopsAtTheBudgetItIsGivenOnceItHasTheFewestRounds) {
  bench::Config cfg;
  cfg.rounds = 100;
  const auto c = bench::compare(cfg, {[] {
                                  std::this_thread::sleep_for(std::chrono::milliseconds(300));
                                  return 1.0;
                                }},
                                0, std::chrono::seconds(1));
  // 5 rounds take 1.5 s, past the 1 s budget: no more than the fewest a row needs.
  EXPECT_EQ(c.rounds(), bench::kMinRounds);
}

TEST(StealShare, IsTheStolenPartOfTheCpuTimeBetweenTwoReadings) {
  EXPECT_DOUBLE_EQ(bench::steal_share({.steal = 10, .total = 100}, {.steal = 30, .total = 300}),
                   0.1);
  EXPECT_DOUBLE_EQ(bench::steal_share({.steal = 10, .total = 100}, {.steal = 10, .total = 100}), 0);
}

TEST(StealShare, OfThisMachineIsAShareBetweenZeroAndOne) {
  const auto from = bench::cpu_ticks();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto to = bench::cpu_ticks();
  EXPECT_GT(to.total, from.total);  // /proc/stat was read
  const double share = bench::steal_share(from, to);
  EXPECT_GE(share, 0);
  EXPECT_LE(share, 1);
}

TEST(CpuSpeed, IsAFiniteRateOfMillionsOfStepsPerSecond) {
  const double speed = bench::cpu_speed();
  EXPECT_GT(speed, 0.01);  // 100,000 steps take well under 10 s on any machine that runs the tests
  EXPECT_TRUE(std::isfinite(speed));
}

TEST(MachineWatch, GivesTheMedianOfItsSpeedSamplesAndTheStealSinceItBegan) {
  bench::MachineWatch machine;
  EXPECT_EQ(machine.speed(), 0) << "no sample taken";
  machine.sample();
  machine.sample();
  EXPECT_GT(machine.speed(), 0);
  EXPECT_GE(machine.steal(), 0);
  EXPECT_LE(machine.steal(), 1);
}

TEST(RatioRow, MeetsItsGoalOnTheMedianRatio) {
  bench::Config cfg;
  cfg.rounds = 5;
  double raw = 100;
  const auto c = bench::compare(cfg, {[&] { return raw; }, [&] { return 93.0; }});
  const auto row = bench::ratio_row("P9", "test", "tx/s", c, 0.90);
  EXPECT_DOUBLE_EQ(row.ratio->median, 0.93);
  EXPECT_TRUE(row.met);
  EXPECT_EQ(row.rounds, 5);
  EXPECT_EQ(row.steal, c.steal);
  EXPECT_GT(c.speed, 0);  // a probe after each round
  EXPECT_EQ(row.speed, c.speed);
  EXPECT_FALSE(bench::ratio_row("P9", "test", "tx/s", c, 0.95).met);
  EXPECT_TRUE(bench::ratio_row("P9", "test", "tx/s", c, 0.95, true).met);
}

}  // namespace
