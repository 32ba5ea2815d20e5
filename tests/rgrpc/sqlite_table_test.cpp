// Serving an SQL outbox (a SQLite events table) over gRPC: what a peer service does.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <thread>

#include "reflex/reflex.hpp"
#include "reflex/rgrpc/client.hpp"
#include "reflex/rgrpc/server.hpp"
#include "reflex/rsql/rsql.hpp"
#include "reflex/rsql/sqlite.hpp"
#include "reflex_test/env.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using reflex::rsql::NewEvent;

struct SqlFixture {
  reflex_test::TempDir dir;
  std::string path = (dir.path() / "outbox.db").string();
  std::shared_ptr<reflex::rsql::Database> db = [&] {
    auto d = reflex::rsql::Database::open("sqlite://" + path);
    d->create_events_table({.table = "user_events"});
    return d;
  }();
  reflex::rsql::EventsTable table{db, {.schema = {.table = "user_events"}}};
  reflex::rgrpc::Server server{table.stream_func()};
  reflex::StreamFunc remote = reflex::rgrpc::stream_func({.target = server.address()});

  /// Inserts events in one transaction of the service's own connection.
  void insert(int from, int to) {
    sqlite3* conn = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &conn), SQLITE_OK);
    sqlite3_busy_timeout(conn, 5000);
    ASSERT_EQ(sqlite3_exec(conn, "BEGIN", nullptr, nullptr, nullptr), SQLITE_OK);
    std::vector<NewEvent> events;
    for (int i = from; i < to; ++i) {
      events.push_back(
          NewEvent{.foreign_id = i, .type = 1 + i % 3, .metadata = "m" + std::to_string(i)});
    }
    auto notify = table.insert_batch(conn, events);
    ASSERT_EQ(sqlite3_exec(conn, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    notify();
    sqlite3_close(conn);
  }
};

TEST(GrpcSqlTable, StreamsEveryEventOfTheTableInOrderWithEveryField) {
  SqlFixture f;
  f.insert(0, 300);
  std::stop_source stop;
  auto local = f.table.stream(stop.get_token(), "", {.to_head = true});
  auto client = f.remote(stop.get_token(), "", {});
  for (int i = 0; i < 300; ++i) {
    const auto want = local->recv();
    const auto got = client->recv();
    ASSERT_EQ(got, want) << "event " << i;
  }
}

TEST(GrpcSqlTable, StreamsAfterACursorAndEndsAtTheHeadWhenAsked) {
  SqlFixture f;
  f.insert(0, 10);
  std::stop_source stop;
  auto client = f.remote(stop.get_token(), "7", {.to_head = true});
  EXPECT_EQ(client->recv().id, "8");
  EXPECT_EQ(client->recv().id, "9");
  EXPECT_EQ(client->recv().id, "10");
  EXPECT_THROW((void)client->recv(), reflex::HeadReached);
}

TEST(GrpcSqlTable, AWaitingPeerSeesACommitPromptly) {
  SqlFixture f;
  std::stop_source stop;
  auto client = f.remote(stop.get_token(), "", {});
  std::atomic<bool> got{false};
  std::jthread reader([&] {
    EXPECT_EQ(client->recv().foreign_id, "0");
    got = true;
  });
  // The peer's stream is open on the server, which waits at the table's head for it.
  ASSERT_TRUE(rgrpc_test::eventually([&] { return f.server.stats().open_streams == 1; }));
  f.insert(0, 1);
  EXPECT_TRUE(rgrpc_test::eventually([&] { return got.load(); }, 2000ms));
  stop.request_stop();
}

}  // namespace
