// Streams that read from a hot standby (REFLEX_TEST_PG_REPLICA_DSN: `scripts/services start
// postgres-replica`, which scripts/test runs): the events come from the standby, holes are decided
// on the primary, and a hole is passed only once the standby has replayed past the decision.

#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <thread>

#include "backend.hpp"
#include "gap_safety.hpp"
#include "reflex/reflex.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/wait.hpp"

namespace reflex_test::rsql {
namespace {

using namespace std::chrono_literals;
using reflex_test::eventually;

class PostgresReplica : public ::testing::Test, protected FreshEvents {
 protected:
  PostgresReplica() : FreshEvents("replica") {}

  /// The standby's head once it equals the primary's (it replayed every commit so far).
  void wait_caught_up(const EventsTable& on_standby) {
    const EventsTable on_primary(db, EventsTableOptions{.schema = {.table = name}});
    ASSERT_TRUE(eventually(
        [&] {
          try {
            return on_standby.head() == on_primary.head();
          } catch (const reflex::rsql::SchemaError&) {
            return false;  // the standby has not replayed the table's creation yet
          }
        },
        10s))
        << "the standby did not replay the primary's commits";
  }

  /// Inserts one event in a transaction that rolls back: a hole below later ids, forever.
  void rolled_back(const EventsTable& table, const std::string& foreign_id) {
    auto producer = backend->producer();
    producer->begin();
    (void)producer->insert(table, NewEvent{.foreign_id = foreign_id, .type = 1});
    producer->rollback();
  }

  std::string replica_dsn = required_env("REFLEX_TEST_PG_REPLICA_DSN");
  std::shared_ptr<Database> replica = Database::open(replica_dsn, {.primary_dsn = backend->dsn()});
};

/// Pauses the standby's replay while it lives (a test's own; resumed whatever happens).
class ReplayPause {
 public:
  explicit ReplayPause(const std::string& dsn) : conn_(dsn) {
    pqxx::nontransaction(conn_).exec("SELECT pg_wal_replay_pause()");
    try {
      for (int i = 0; i < 500; ++i) {
        const auto state = pqxx::nontransaction(conn_)
                               .exec1("SELECT pg_get_wal_replay_pause_state()")[0]
                               .as<std::string>();
        if (state == "paused") return;
        std::this_thread::sleep_for(10ms);
      }
      ADD_FAILURE() << "the standby's replay did not pause";
    } catch (...) {
      resume();  // other tests read this standby too
      throw;
    }
  }
  ~ReplayPause() {
    try {
      resume();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "the standby's replay did not resume: " << e.what();
    }
  }
  ReplayPause(const ReplayPause&) = delete;
  ReplayPause& operator=(const ReplayPause&) = delete;

 private:
  void resume() { pqxx::nontransaction(conn_).exec("SELECT pg_wal_replay_resume()"); }

  pqxx::connection conn_;
};

TEST_F(PostgresReplica, SixteenWritersStayExactForReadersOnTheStandbyToo) {
  (void)check_gap_safety(*backend, db, name, 4s, replica);
}

TEST_F(PostgresReplica, AHoleCommittedOnThePrimaryIsPassedOnlyOnceTheStandbyReplayedIt) {
  const EventsTable table(db, EventsTableOptions{.schema = {.table = name}});
  const EventsTable on_standby(
      replica, EventsTableOptions{.schema = {.table = name}, .poll_interval = 10ms});
  // "first" takes its id and stays open; "second", after it, commits: a hole on the standby.
  auto first = backend->producer();
  first->begin();
  (void)first->insert(table, NewEvent{.foreign_id = "first", .type = 1});
  insert_committed(*backend, table, std::vector<NewEvent>{{.foreign_id = "second", .type = 1}});
  wait_caught_up(on_standby);

  Follower follower(on_standby);
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(follower.got().empty()) << "passed a hole that a running transaction may fill";
  {
    // Committed on the primary, not yet on the standby: the primary says the hole is final,
    // and a reader that trusted it now would skip "first" for good.
    ReplayPause pause(replica_dsn);
    first->commit();
    std::this_thread::sleep_for(500ms);
    EXPECT_TRUE(follower.got().empty())
        << "passed a hole before the standby replayed the commit that fills it";
  }
  follower.wait_for(2, 5s);
  EXPECT_EQ(follower.got(), (std::vector<std::string>{"first", "second"}));
}

TEST_F(PostgresReplica, ABackfillOnTheStandbyReadsEveryCommittedEventPastOldHoles) {
  const EventsTable table(db, EventsTableOptions{.schema = {.table = name}});
  std::vector<std::string> committed;
  for (int i = 0; i < 30; ++i) {
    if (i % 4 == 1) rolled_back(table, "rolled-back-" + std::to_string(i));
    committed.push_back("e" + std::to_string(i));
    insert_committed(*backend, table,
                     std::vector<NewEvent>{{.foreign_id = committed.back(), .type = 1}});
  }
  // A fresh process's view (a new database object: nothing settled yet) reads the old range.
  const EventsTable on_standby(Database::open(replica_dsn, {.primary_dsn = backend->dsn()}),
                               EventsTableOptions{.schema = {.table = name}, .batch_size = 7});
  wait_caught_up(on_standby);
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> got;
  for (const auto& e : read_to_head(on_standby)) got.push_back(e.foreign_id);
  EXPECT_EQ(got, committed);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s) << "the old holes held the backfill";
}

TEST_F(PostgresReplica, AStreamOnAStandbyWithoutItsPrimaryFailsSayingWhatToConfigure) {
  const EventsTable table(db, EventsTableOptions{.schema = {.table = name}});
  insert_committed(*backend, table, std::vector<NewEvent>{{.foreign_id = "a", .type = 1}});
  const EventsTable on_standby(Database::open(replica_dsn),
                               EventsTableOptions{.schema = {.table = name}});
  wait_caught_up(on_standby);  // head() needs no primary
  try {
    auto stream = on_standby.stream(std::stop_token(), "");
    (void)stream->recv();
    ADD_FAILURE() << "a stream on a standby without its primary read an event";
  } catch (const reflex::ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("standby"), std::string::npos) << message;
    EXPECT_NE(message.find("DatabaseOptions::primary_dsn"), std::string::npos) << message;
    EXPECT_NE(message.find("--primary"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
  }
}

TEST(PostgresReplicaDocs, OpeningAStandbyWithItsPrimaryConnectsNothing) {
  // docs/rsql.md "Reading from a replica" shows this block; opening connects nothing.
  // [snippet:open-standby]
  auto standby =
      reflex::rsql::Database::open("postgresql://reader@standby:5432/app",
                                   {.primary_dsn = "postgresql://reader@primary:5432/app"});
  reflex::rsql::EventsTable events(standby, {.schema = {.table = "user_events"}});
  // [end snippet]
  EXPECT_EQ(events.options().schema.table, "user_events");
  EXPECT_EQ(standby->redacted_dsn(), "postgresql://reader@standby:5432/app");
}

}  // namespace
}  // namespace reflex_test::rsql
