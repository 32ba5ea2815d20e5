#include <gtest/gtest.h>

#include <chrono>

#include "reflex/errors.hpp"
#include "reflex/rnats/connection.hpp"

namespace {

using namespace std::chrono_literals;
using reflex::rnats::Connection;
using reflex::rnats::ConnectOptions;

TEST(Connection, RejectsAMalformedUrlWithConfigError) {
  EXPECT_THROW(Connection("127.0.0.1:4222"), reflex::ConfigError);
  EXPECT_THROW(Connection("http://127.0.0.1:4222"), reflex::ConfigError);
  EXPECT_THROW(Connection("nats://127.0.0.1:99999"), reflex::ConfigError);
  EXPECT_THROW(Connection(""), reflex::ConfigError);
}

TEST(Connection, RejectsNonsenseTimeouts) {
  EXPECT_THROW(Connection(ConnectOptions{.url = "nats://127.0.0.1:1", .connect_timeout = 0ms}),
               reflex::ConfigError);
  EXPECT_THROW(Connection(ConnectOptions{
                   .url = "nats://127.0.0.1:1", .reconnect_wait = 2s, .max_reconnect_wait = 1s}),
               reflex::ConfigError);
}

TEST(Connection, UnreachableServerIsUnavailableAndRedactsThePassword) {
  try {
    Connection conn(
        ConnectOptions{.url = "nats://me:secret@127.0.0.1:1", .connect_timeout = 500ms});
    FAIL() << "connected to a closed port";
  } catch (const reflex::Unavailable& e) {
    EXPECT_TRUE(e.retryable());
    const std::string what = e.what();
    EXPECT_NE(what.find("127.0.0.1:1"), std::string::npos) << what;
    EXPECT_EQ(what.find("secret"), std::string::npos) << what;
  }
}

}  // namespace
