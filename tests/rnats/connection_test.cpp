#include "reflex/rnats/connection.hpp"

#include <gtest/gtest.h>

#include "nats_test.hpp"
#include "reflex/errors.hpp"

namespace {

using namespace std::chrono_literals;
namespace rnats = reflex::rnats;

TEST(Connection, ConnectsFlushesAndSharesOneConnectionBetweenCopies) {
  auto conn = rnats_test::connect();
  EXPECT_TRUE(conn.connected());
  EXPECT_EQ(conn.reconnects(), 0u);
  EXPECT_NO_THROW(conn.flush());
  rnats::Connection copy = conn;
  copy.close();
  EXPECT_FALSE(conn.connected());
  EXPECT_THROW(rnats::stream_info(conn, "ANY"), reflex::Unavailable);
}

}  // namespace
