#include "reflex/uri.hpp"

#include <gtest/gtest.h>

#include "reflex/errors.hpp"

namespace {

std::string error_of(std::string_view text) {
  try {
    (void)reflex::parse_uri(text);
  } catch (const reflex::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ParseUri, ReadsEveryPartOfAFullUri) {
  auto uri =
      reflex::parse_uri("PostgreSQL://app:s%40cret@127.0.0.1:5432/orders?table=order_events&x=1");
  EXPECT_EQ(uri.scheme, "postgresql");
  EXPECT_EQ(uri.user, "app");
  EXPECT_EQ(uri.password, "s@cret");
  EXPECT_EQ(uri.host, "127.0.0.1");
  EXPECT_EQ(uri.port, 5432);
  EXPECT_EQ(uri.path, "/orders");
  EXPECT_EQ(uri.param("table"), "order_events");
  EXPECT_EQ(uri.param("x"), "1");
  EXPECT_FALSE(uri.param("y").has_value());
}

TEST(ParseUri, ReadsSqliteFilePathsWithoutHost) {
  auto uri = reflex::parse_uri("sqlite:///var/lib/app%20data/app.db?table=events");
  EXPECT_EQ(uri.scheme, "sqlite");
  EXPECT_EQ(uri.host, "");
  EXPECT_EQ(uri.path, "/var/lib/app data/app.db");
  EXPECT_FALSE(uri.port.has_value());
}

TEST(ParseUri, ReadsBracketedIpv6Hosts) {
  auto uri = reflex::parse_uri("grpc://[::1]:9090");
  EXPECT_EQ(uri.host, "::1");
  EXPECT_EQ(uri.port, 9090);
  EXPECT_EQ(uri.redacted(), "grpc://[::1]:9090");
}

TEST(ParseUri, RejectsMalformedInputWithAClearMessage) {
  EXPECT_NE(error_of("127.0.0.1:5432/db").find("expected scheme://"), std::string::npos);
  EXPECT_NE(error_of("pg://h:99999/db").find("port \"99999\""), std::string::npos);
  EXPECT_NE(error_of("pg://h:abc/db").find("port \"abc\""), std::string::npos);
  EXPECT_NE(error_of("pg://h:/db").find("empty port"), std::string::npos);
  EXPECT_NE(error_of("pg://h/db%zz").find("percent escape"), std::string::npos);
  EXPECT_NE(error_of("pg://h/db%4").find("percent escape"), std::string::npos);
  EXPECT_NE(error_of("pg://h/db#frag").find("fragment"), std::string::npos);
  EXPECT_NE(error_of("1pg://h/db").find("scheme"), std::string::npos);
  EXPECT_NE(error_of("pg://[::1/db").find("IPv6"), std::string::npos);
  // A line break pasted into a DSN stays on the error's one line, escaped.
  const auto pasted = error_of("pg://h:54\n32/db");
  EXPECT_NE(pasted.find(R"(malformed URI "pg://h:54\n32/db")"), std::string::npos) << pasted;
  EXPECT_NE(pasted.find(R"(the port "54\n32")"), std::string::npos) << pasted;
  EXPECT_EQ(pasted.find('\n'), std::string::npos) << pasted;
}

TEST(ParseUri, ErrorMessagesNeverShowThePassword) {
  const auto message = error_of("pg://user:hunter2@h:bad/db");
  EXPECT_NE(message.find("user:***@"), std::string::npos) << message;
  EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  auto uri = reflex::parse_uri("pg://user:hunter2@h/db");
  EXPECT_EQ(uri.redacted(), "pg://user:***@h/db");
  try {
    (void)uri.required_param("table", "add ?table=NAME");
    FAIL();
  } catch (const reflex::ConfigError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find("hunter2"), std::string::npos) << what;
    EXPECT_NE(what.find("\"table\""), std::string::npos) << what;
    EXPECT_NE(what.find("add ?table=NAME"), std::string::npos) << what;
  }
}

TEST(ParseUri, CheckParamsCatchesUnknownKeys) {
  auto uri = reflex::parse_uri("nats://h:4222?strem=orders");
  try {
    uri.check_params({"stream", "subject"});
    FAIL();
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("\"strem\""), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(
      reflex::parse_uri("nats://h?stream=a&subject=b").check_params({"stream", "subject"}));
}

}  // namespace
