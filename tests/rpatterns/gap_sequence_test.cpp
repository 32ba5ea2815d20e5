#include "reflex/rpatterns/gap_sequence.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "reflex/errors.hpp"

namespace {

namespace rp = reflex::rpatterns;

TEST(GapSequence, MovesOnlyOverAFinishedPrefix) {
  rp::GapSequence seq;
  const auto a = seq.start("a");
  const auto b = seq.start("b");
  const auto c = seq.start("c");
  EXPECT_EQ(seq.finish(c), std::nullopt);
  EXPECT_EQ(seq.finish(b), std::nullopt);
  EXPECT_EQ(seq.finish(a), std::optional<std::string>("c"));
  EXPECT_EQ(seq.pending(), 0u);
  const auto d = seq.start("d");
  EXPECT_EQ(seq.finish(d), std::optional<std::string>("d"));
}

TEST(GapSequence, NeverPassesAnUnfinishedIdInRandomOrders) {
  std::mt19937 rng(42);
  for (int round = 0; round < 50; ++round) {
    rp::GapSequence seq;
    std::vector<rp::GapSequence::Ticket> tickets;
    for (int i = 1; i <= 64; ++i) tickets.push_back(seq.start(std::to_string(i)));
    std::shuffle(tickets.begin(), tickets.end(), rng);
    std::vector<bool> done(65, false);
    int cursor = 0;
    for (auto t : tickets) {
      done[t + 1] = true;
      if (auto c = seq.finish(t)) {
        const int value = std::stoi(*c);
        EXPECT_GT(value, cursor);
        for (int i = 1; i <= value; ++i) ASSERT_TRUE(done[i]) << "passed unfinished " << i;
        cursor = value;
      }
    }
    EXPECT_EQ(cursor, 64);
  }
}

TEST(GapSequence, RejectsUnknownAndRepeatedTickets) {
  rp::GapSequence seq;
  const auto a = seq.start("a");
  (void)seq.start("b");
  EXPECT_THROW((void)seq.finish(5), reflex::Error);
  EXPECT_EQ(seq.finish(a), std::optional<std::string>("a"));
  EXPECT_THROW((void)seq.finish(a), reflex::Error);
}

}  // namespace
