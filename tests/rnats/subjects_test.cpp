// Which subject pattern covers which, and the server filter for a consumer of several subjects
// (nats-server 2.9 takes one).
#include "subjects.hpp"

#include <gtest/gtest.h>

namespace {

using reflex::rnats::detail::covering_member;
using reflex::rnats::detail::covering_pattern;
using reflex::rnats::detail::covers;
using reflex::rnats::detail::split_filter_line;
using reflex::rnats::detail::with_filter_line;

TEST(Subjects, CoversMatchesTokenByToken) {
  EXPECT_TRUE(covers("a.b", "a.b"));
  EXPECT_FALSE(covers("a.b", "a.c"));
  EXPECT_TRUE(covers("a.*", "a.b"));
  EXPECT_TRUE(covers("a.*", "a.*"));
  EXPECT_FALSE(covers("a.*", "a.>"));
  EXPECT_FALSE(covers("a.*", "a.b.c"));
  EXPECT_TRUE(covers("a.>", "a.b.c"));
  EXPECT_TRUE(covers("a.>", "a.*.>"));
  EXPECT_FALSE(covers("a.>", "a"));
  EXPECT_TRUE(covers(">", "a"));
  EXPECT_FALSE(covers("a.b", "a.*"));
}

TEST(Subjects, OneMemberCoveringTheRestIsTheFilter) {
  EXPECT_EQ(covering_member({"o.created", "o.*"}), "o.*");
  EXPECT_EQ(covering_member({"o.>", "o.a.b", "o.c"}), "o.>");
  EXPECT_FALSE(covering_member({"o.a", "o.b"}));
}

TEST(Subjects, TheNarrowestCoveringPatternIsBuiltTokenByToken) {
  EXPECT_EQ(covering_pattern({"o.created", "o.updated"}), "o.*");
  EXPECT_EQ(covering_pattern({"o.a.x", "o.b.x"}), "o.*.x");
  EXPECT_EQ(covering_pattern({"o.a", "o.b.c"}), "o.>");
  EXPECT_EQ(covering_pattern({"o.>", "p.q"}), "*.>");
  EXPECT_EQ(covering_pattern({"a", "b.c"}), "");  // only ">": no filter
  for (const auto& set : std::vector<std::vector<std::string>>{
           {"o.created", "o.updated"}, {"o.a", "o.b.c"}, {"o.>", "p.q"}, {"x.*.y", "x.z.y"}}) {
    const auto pattern = covering_pattern(set);
    for (const auto& s : set) EXPECT_TRUE(covers(pattern, s)) << pattern << " " << s;
  }
}

TEST(Subjects, FilterSubjectsRoundTripThroughTheDescription) {
  std::string description;
  std::vector<std::string> subjects;
  split_filter_line(with_filter_line("mine [x]", {"a.b", "c.>"}), description, subjects);
  EXPECT_EQ(description, "mine [x]");
  EXPECT_EQ(subjects, (std::vector<std::string>{"a.b", "c.>"}));
  split_filter_line(with_filter_line("", {"a"}), description, subjects);
  EXPECT_EQ(description, "");
  EXPECT_EQ(subjects, (std::vector<std::string>{"a"}));
  EXPECT_EQ(with_filter_line("", {"a", "b"}), "[reflex-filter-subjects: a b]");
  split_filter_line("just text", description, subjects);
  EXPECT_EQ(description, "just text");
  EXPECT_TRUE(subjects.empty());
}

}  // namespace
