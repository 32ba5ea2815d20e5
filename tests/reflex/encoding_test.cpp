#include "reflex/encoding.hpp"

#include <gtest/gtest.h>

#include "reflex/errors.hpp"
#include "reflex/uri.hpp"

namespace {

TEST(Hex, EncodesEveryByteAsTwoLowerCaseDigitsAndDecodesEitherCase) {
  const std::string bytes("\x00\x7f\x80\xff a", 6);
  EXPECT_EQ(reflex::hex_encode(bytes), "007f80ff2061");
  std::string out = "left over";
  ASSERT_TRUE(reflex::hex_decode("007F80fF2061", out));
  EXPECT_EQ(out, bytes);
  std::string appended = "\\x";
  reflex::hex_append(appended, "\x01");
  EXPECT_EQ(appended, "\\x01");
}

TEST(Hex, RefusesAnOddLengthOrANonDigit) {
  std::string out;
  EXPECT_FALSE(reflex::hex_decode("abc", out));
  EXPECT_FALSE(reflex::hex_decode("0g", out));
  EXPECT_FALSE(reflex::hex_decode("g0", out));
  EXPECT_TRUE(reflex::hex_decode("", out));
  EXPECT_EQ(out, "");
}

TEST(Percent, KeepsLettersDigitsAndTheGivenCharactersOnly) {
  EXPECT_EQ(reflex::percent_encode("a b/c%~"), "a%20b%2Fc%25~");
  EXPECT_EQ(reflex::percent_encode("a b/c", "/"), "a%20b/c");
  // '%' is always escaped, even when asked to keep it: the result must decode back.
  EXPECT_EQ(reflex::percent_encode("50%", "%"), "50%25");
  EXPECT_EQ(reflex::percent_encode("\xc3\xa9"), "%C3%A9");
}

TEST(Percent, DecodingInvertsEncodingAndNamesAMalformedEscape) {
  const std::string text("any \x01 bytes: \xff%/?", 15);
  EXPECT_EQ(reflex::percent_decode(reflex::percent_encode(text)), text);
  EXPECT_EQ(reflex::try_percent_decode("%zz"), std::nullopt);
  EXPECT_EQ(reflex::try_percent_decode("ab%4"), std::nullopt);
  EXPECT_EQ(reflex::try_percent_decode("a%41"), "aA");
  try {
    (void)reflex::percent_decode("x%zzy");
    FAIL() << "expected a ConfigError";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("%zz"), std::string::npos) << e.what();
  }
}

TEST(Quoted, NamesAValueOnOneLineWithItsControlBytesEscaped) {
  EXPECT_EQ(reflex::quoted("order"), "\"order\"");
  EXPECT_EQ(reflex::quoted("a\nb\r\tc"), R"("a\nb\r\tc")");
  EXPECT_EQ(reflex::quoted(std::string("x\0\x1b\x7f", 4)), R"("x\x00\x1b\x7f")");
  EXPECT_EQ(reflex::quoted(R"(say "hi" \)"), R"("say \"hi\" \\")");
  EXPECT_EQ(reflex::quoted("größe"), "\"größe\"");  // UTF-8 is shown as it is
  EXPECT_EQ(reflex::quoted(""), "\"\"");
}

TEST(Quoted, CutsALongValueAtACharacterBoundary) {
  EXPECT_EQ(reflex::quoted(std::string(300, 'k')), "\"" + std::string(128, 'k') + "…\"");
  EXPECT_EQ(reflex::quoted("abcd", 4), "\"abcd\"");
  EXPECT_EQ(reflex::quoted("abcde", 4), "\"abcd…\"");
  // "ö" is two bytes: a cut after 2 bytes would split it, so it falls back to "a".
  EXPECT_EQ(reflex::quoted("aöb", 2), "\"a…\"");
}

TEST(Utf8, AcceptsEveryWellFormedSequenceAndNamesWhereOneIsNot) {
  EXPECT_TRUE(reflex::is_utf8(""));
  EXPECT_TRUE(reflex::is_utf8("plain ascii"));
  EXPECT_TRUE(reflex::is_utf8(
      "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"));  // é € 😀 U+10FFFF
  EXPECT_EQ(reflex::invalid_utf8_at("\xc3"), 0u) << "a sequence cut short";
  EXPECT_EQ(reflex::invalid_utf8_at("ab\xc3("), 2u) << "a bad continuation byte";
  EXPECT_EQ(reflex::invalid_utf8_at("\xc0\xaf"), 0u) << "an overlong '/'";
  EXPECT_EQ(reflex::invalid_utf8_at("\xe0\x80\xaf"), 0u) << "an overlong three-byte form";
  EXPECT_EQ(reflex::invalid_utf8_at("\xed\xa0\x80"), 0u) << "a surrogate (U+D800)";
  EXPECT_EQ(reflex::invalid_utf8_at("\xf4\x90\x80\x80"), 0u) << "above U+10FFFF";
  EXPECT_EQ(reflex::invalid_utf8_at("x\xff"), 1u);
  EXPECT_EQ(reflex::invalid_utf8_at("x\x80"), 1u) << "a lone continuation byte";
}

TEST(UriText, StrGivesBackAUriThatParsesToTheSameParts) {
  const auto uri = reflex::parse_uri(
      "postgresql://app%40x:p%3Aw%20d@[::1]:5432/my%20db?sslmode=require&options=-c%20a%3Db");
  const auto again = reflex::parse_uri(uri.str());
  EXPECT_EQ(again.user, "app@x");
  EXPECT_EQ(again.password, "p:w d");
  EXPECT_EQ(again.host, "::1");
  EXPECT_EQ(again.port, 5432);
  EXPECT_EQ(again.path, "/my db");
  EXPECT_EQ(again.query, uri.query);
  EXPECT_EQ(uri.redacted().find("p%3A"), std::string::npos) << "the password is masked";
}

TEST(UriText, RemoveParamDropsEveryValueOfThatNameOnly) {
  auto uri = reflex::parse_uri("sqlite:///tmp/a.db?table=events&x=1&table=other");
  uri.remove_param("table");
  EXPECT_EQ(uri.str(), "sqlite:///tmp/a.db?x=1");
  uri.remove_param("x");
  EXPECT_EQ(uri.str(), "sqlite:///tmp/a.db");
}

TEST(UriText, AMalformedEscapeNamesTheUriWithItsPasswordMasked) {
  try {
    (void)reflex::parse_uri("mysql://u:se%zzcret@127.0.0.1/db");
    FAIL() << "expected a ConfigError";
  } catch (const reflex::ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("mysql://u:***@127.0.0.1/db"), std::string::npos) << what;
    EXPECT_EQ(what.find("cret"), std::string::npos) << what;
  }
}

}  // namespace
