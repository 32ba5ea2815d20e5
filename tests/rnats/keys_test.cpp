#include <gtest/gtest.h>

#include "reflex/rnats/kv.hpp"

namespace {

using reflex::rnats::escape_key;
using reflex::rnats::unescape_key;

TEST(EscapeKey, KeepsSimpleNamesReadable) {
  EXPECT_EQ(escape_key("order-mailer_2/eu"), "order-mailer_2/eu");
}

TEST(EscapeKey, EscapesEverythingOutsideTheSafeAlphabet) {
  EXPECT_EQ(escape_key("orders.mailer"), "orders=2Emailer");
  EXPECT_EQ(escape_key("a b=c"), "a=20b=3Dc");
  EXPECT_EQ(escape_key(""), "=");
  EXPECT_EQ(escape_key("\xff*>"), "=FF=2A=3E");
}

TEST(EscapeKey, RoundTripsAnyText) {
  for (const std::string text : {"", "plain", "with.dots..", "=3D", "sp ace", "\x01\xfe", "é"}) {
    EXPECT_EQ(unescape_key(escape_key(text)), text) << text;
  }
}

TEST(EscapeKey, UnescapingKeepsWhatIsNoEscape) {
  // Keys written by others: a '=' without two hex digits, and '%' (not an escape here).
  EXPECT_EQ(unescape_key("a=b=4"), "a=b=4");
  EXPECT_EQ(unescape_key("x%41=41=2e"), "x%41A.");
}

TEST(EscapeKey, IsInjective) {
  EXPECT_NE(escape_key("a.b"), escape_key("a=2Eb"));
  EXPECT_NE(escape_key(""), escape_key("="));
}

}  // namespace
