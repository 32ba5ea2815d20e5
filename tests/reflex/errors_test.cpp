#include "reflex/errors.hpp"

#include <gtest/gtest.h>

namespace {

std::exception_ptr wrap(std::exception_ptr cause) {
  return std::make_exception_ptr(reflex::ConsumeError("c", "5", "f", std::move(cause)));
}

TEST(Errors, RetryableFollowsTheCause) {
  EXPECT_TRUE(reflex::is_retryable(wrap(std::make_exception_ptr(reflex::Unavailable("down")))));
  EXPECT_FALSE(reflex::is_retryable(wrap(std::make_exception_ptr(reflex::ConfigError("bad")))));
  EXPECT_FALSE(reflex::is_retryable(wrap(std::make_exception_ptr(std::runtime_error("x")))));
  EXPECT_TRUE(reflex::Stopped().retryable());
  EXPECT_FALSE(reflex::HeadReached().retryable());
}

TEST(Errors, ExpectedMeansCanceledOrStoppedAtAnyDepth) {
  EXPECT_TRUE(reflex::is_expected(std::make_exception_ptr(reflex::Canceled())));
  EXPECT_TRUE(reflex::is_expected(std::make_exception_ptr(reflex::Stopped())));
  EXPECT_TRUE(reflex::is_expected(wrap(std::make_exception_ptr(reflex::Canceled()))));
  EXPECT_FALSE(reflex::is_expected(std::make_exception_ptr(reflex::HeadReached())));
  EXPECT_FALSE(reflex::is_expected(wrap(std::make_exception_ptr(std::logic_error("bug")))));
  EXPECT_FALSE(reflex::is_expected(std::exception_ptr{}));
}

TEST(Errors, FindErrorWalksWrappedCauses) {
  auto filter = std::make_exception_ptr(
      reflex::FilterError("filter failed", std::make_exception_ptr(std::out_of_range("oops"))));
  auto error = wrap(filter);
  ASSERT_NE(reflex::find_error<reflex::FilterError>(error), nullptr);
  ASSERT_NE(reflex::find_error<std::out_of_range>(error), nullptr);
  EXPECT_STREQ(reflex::find_error<std::out_of_range>(error)->what(), "oops");
  EXPECT_EQ(reflex::find_error<reflex::CursorError>(error), nullptr);
}

TEST(Errors, FindErrorSeesStdNestedExceptions) {
  std::exception_ptr nested;
  try {
    try {
      throw reflex::Unavailable("inner");
    } catch (...) {
      std::throw_with_nested(std::runtime_error("outer"));
    }
  } catch (...) {
    nested = std::current_exception();
  }
  EXPECT_NE(reflex::find_error<reflex::Unavailable>(nested), nullptr);
  EXPECT_TRUE(reflex::is_retryable(nested));
}

TEST(Errors, ConsumeErrorMessageNamesConsumerEventAndForeignId) {
  reflex::ConsumeError e("mailer", "42", "user-9",
                         std::make_exception_ptr(std::runtime_error("smtp down")));
  const std::string what = e.what();
  EXPECT_NE(what.find("mailer"), std::string::npos) << what;
  EXPECT_NE(what.find("42"), std::string::npos) << what;
  EXPECT_NE(what.find("user-9"), std::string::npos) << what;
  EXPECT_NE(what.find("smtp down"), std::string::npos) << what;
  EXPECT_EQ(e.consumer(), "mailer");
  EXPECT_EQ(e.event_id(), "42");
  EXPECT_EQ(e.foreign_id(), "user-9");
}

}  // namespace
