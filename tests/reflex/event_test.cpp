#include "reflex/event.hpp"

#include <gtest/gtest.h>

#include "reflex/errors.hpp"

namespace {

enum class UserEvent { Created = 1, Deleted = 2 };
enum LegacyKind { kLegacyA = 7 };

TEST(Event, IdIntParsesDecimalIds) {
  reflex::Event e{.id = "9223372036854775807", .foreign_id = "-42"};
  EXPECT_EQ(e.id_int(), 9223372036854775807LL);
  EXPECT_EQ(e.foreign_id_int(), -42);
}

TEST(Event, IdIntRejectsTextWithAClearError) {
  reflex::Event e{.id = "12a", .foreign_id = "user-7"};
  EXPECT_FALSE(e.try_id_int().has_value());
  EXPECT_FALSE(e.try_foreign_id_int().has_value());
  try {
    (void)e.id_int();
    FAIL() << "expected an error";
  } catch (const reflex::Error& error) {
    EXPECT_NE(std::string(error.what()).find("\"12a\""), std::string::npos) << error.what();
  }
  EXPECT_THROW((void)e.foreign_id_int(), reflex::Error);
}

TEST(Event, IdIntRejectsEmptyOverflowAndPadding) {
  EXPECT_FALSE(reflex::parse_int64("").has_value());
  EXPECT_FALSE(reflex::parse_int64("9223372036854775808").has_value());
  EXPECT_FALSE(reflex::parse_int64(" 1").has_value());
  EXPECT_FALSE(reflex::parse_int64("1 ").has_value());
  EXPECT_FALSE(reflex::parse_int64("+1").has_value());
  EXPECT_EQ(reflex::parse_int64("0"), 0);
}

TEST(Event, IsTypeWorksWithAnyEnumOrInteger) {
  reflex::Event e{.type = 2};
  EXPECT_TRUE(reflex::is_type(e, UserEvent::Deleted));
  EXPECT_FALSE(reflex::is_type(e, UserEvent::Created));
  EXPECT_TRUE(reflex::is_type(e, 2));
  EXPECT_FALSE(reflex::is_type(e, kLegacyA));
  EXPECT_TRUE(reflex::is_any_type(e, UserEvent::Created, UserEvent::Deleted));
  EXPECT_FALSE(reflex::is_any_type(e, UserEvent::Created, kLegacyA));
}

TEST(Event, EqualityComparesEveryField) {
  reflex::Event a{.id = "1", .type = 1, .foreign_id = "x", .metadata = "m", .trace = "t"};
  reflex::Event b = a;
  EXPECT_EQ(a, b);
  b.trace = "u";
  EXPECT_NE(a, b);
}

}  // namespace
