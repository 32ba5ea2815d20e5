// MariaDB/MySQL specifics: connection errors a user can act on.

#include "reflex/rsql/mysql.hpp"

#include <cppconn/statement.h>
#include <gtest/gtest.h>
#include <mysql_connection.h>
#include <unistd.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend.hpp"
#include "reflex/reflex.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test::rsql {
namespace {

using namespace std::chrono_literals;

TEST(MySql, AnUnreachableServerIsRetryableAndTheMessageHidesThePassword) {
  auto db = Database::open("mysql://root:s3cret@127.0.0.1:1/reflex");
  try {
    db->ping();
    FAIL() << "expected Unavailable";
  } catch (const reflex::Unavailable& e) {
    EXPECT_TRUE(e.retryable());
    EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << e.what();
  }
  reflex::rsql::EventsTable table(db);
  std::stop_source stop;
  auto stream = table.stream(stop.get_token(), "", reflex::StreamOptions{.to_head = true});
  EXPECT_THROW((void)stream->recv(), reflex::Unavailable);
}

TEST(MySql, AnUnknownDatabaseIsAConfigError) {
  const auto dsn = reflex::parse_uri(required_env("REFLEX_TEST_MYSQL_DSN"));
  auto db = Database::open("mysql://" + dsn.user + "@" + dsn.host + ":" +
                           std::to_string(dsn.port.value_or(3306)) + "/no_such_database");
  try {
    db->ping();
    FAIL() << "expected ConfigError";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_database"), std::string::npos) << e.what();
    EXPECT_FALSE(e.retryable());
  }
}

TEST(MySql, MalformedDsnsAreConfigErrors) {
  for (const char* bad :
       {"mysql://", "mysql://127.0.0.1", "mariadb://h:3306/a/b", "mysql://h/db?unknown=1"}) {
    EXPECT_THROW((void)Database::open(bad), reflex::ConfigError) << bad;
  }
}

/// A fresh events table on the MariaDB test server.
struct FreshTable {
  explicit FreshTable(const std::string& prefix) : name(unique_name(prefix)) {
    db->create_events_table({.table = name});
  }
  std::string dsn = required_env("REFLEX_TEST_MYSQL_DSN");
  std::shared_ptr<Database> db = Database::open(dsn);
  std::string name;
  reflex::rsql::EventsTable table{db, {.schema = {.table = name}}};
};

TEST(MySql, ConnectMySqlOpensAConnectionForTheCallersOwnTransactions) {
  FreshTable f("events");
  auto conn = reflex::rsql::connect_mysql(f.dsn);
  ASSERT_TRUE(conn);
  EXPECT_TRUE(conn->getAutoCommit()) << "the caller's connection keeps the server's defaults";
  conn->setAutoCommit(false);
  auto notify = f.table.insert(*conn, {.foreign_id = "mine", .type = 3});
  conn->commit();
  notify();
  const auto events = read_to_head(f.table);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].foreign_id, "mine");

  EXPECT_THROW((void)reflex::rsql::connect_mysql("postgresql://u@h:1/db"), reflex::ConfigError);
  EXPECT_THROW((void)reflex::rsql::connect_mysql("mysql://h:3306/a/b"), reflex::ConfigError);
  const auto uri = reflex::parse_uri(f.dsn);
  EXPECT_THROW((void)reflex::rsql::connect_mysql("mysql://" + uri.user + "@127.0.0.1:1/reflex",
                                                 {.connect_timeout = std::chrono::seconds(1)}),
               reflex::Unavailable);
}

TEST(MySql, InsertOutsideATransactionIsRefused) {
  const FreshEvents f;
  EventsTable table(f.db, {.schema = {.table = f.name}});
  auto producer = f.backend->producer();  // autocommit until begin()
  EXPECT_THROW((void)producer->insert(table, {.foreign_id = "x", .type = 1}), reflex::ConfigError);
}

/// Runs one statement on the caller's connection.
void exec(sql::Connection& conn, const std::string& sql) {
  std::unique_ptr<sql::Statement> st(conn.createStatement());
  st->execute(sql);
}

std::vector<std::string> foreign_ids(const std::vector<reflex::Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.foreign_id);
  return out;
}

TEST(MySql, AnInsertWhoseIdAReaderFoundUnclaimedFailsRetryablyAndIsNeverSkipped) {
  // InnoDB draws an auto-increment id and only then writes the row: in between, the id has
  // neither row nor lock. A writer stalled there while a later id commits leaves a hole that a
  // reader's probe finds free. The reader passes the hole, so the stalled insert must not commit
  // behind it. `SET insert_id` makes the stalled writer's insert use the id it drew earlier.
  FreshTable f("stalled");
  f.table.publish(std::vector<reflex::rsql::NewEvent>{{.foreign_id = "a", .type = 1},
                                                      {.foreign_id = "b", .type = 1}});
  auto later = reflex::rsql::connect_mysql(f.dsn);
  later->setAutoCommit(false);
  exec(*later, "SET insert_id = 4");  // id 3 was drawn first, by the stalled writer
  (void)f.table.insert(*later, {.foreign_id = "d", .type = 1});
  later->commit();

  EXPECT_EQ(foreign_ids(read_to_head(f.table)), (std::vector<std::string>{"a", "b", "d"}));

  auto stalled = reflex::rsql::connect_mysql(f.dsn);
  stalled->setAutoCommit(false);
  exec(*stalled, "SET insert_id = 3");
  try {
    (void)f.table.insert(*stalled, {.foreign_id = "c", .type = 1});
    stalled->commit();
    FAIL() << "the stalled insert committed id 3 behind a reader that had passed it";
  } catch (const reflex::rsql::DatabaseError& e) {
    EXPECT_TRUE(e.retryable()) << e.what();
    EXPECT_NE(std::string(e.what()).find("run the transaction again"), std::string::npos)
        << e.what();
    stalled->rollback();
  }
  // Run again, the event gets a fresh id and reaches the reader after everything it has seen.
  auto notify = f.table.insert(*stalled, {.foreign_id = "c", .type = 1});
  stalled->commit();
  notify();
  EXPECT_EQ(foreign_ids(read_to_head(f.table, "4")), (std::vector<std::string>{"c"}));
  EXPECT_EQ(foreign_ids(read_to_head(f.table)), (std::vector<std::string>{"a", "b", "d", "c"}));
}

TEST(MySql, AnInserterWritesEveryFieldAndAStreamGetsEachCommittedEventOnceInOrder) {
  FreshTable f("inserter");
  auto conn = reflex::rsql::connect_mysql(f.dsn);
  conn->setAutoCommit(false);
  reflex::rsql::MySqlInserter inserter(f.table, *conn);
  const std::string bytes("\0\xff'\\x", 5);  // NUL, a byte that is no UTF-8, a quote, a backslash
  (void)inserter.insert({.foreign_id = "a", .type = 1, .metadata = bytes, .trace = "00-ab-cd-01"});
  conn->commit();
  (void)inserter.insert({.foreign_id = "gone", .type = 1});
  conn->rollback();
  // The inserter's statement and insert_events' literal one mix on the same connection.
  (void)f.table.insert(*conn, {.foreign_id = "b", .type = 2});
  auto notify = inserter.insert({.foreign_id = std::int64_t{42}, .type = 3});
  conn->commit();
  notify();
  const auto events = read_to_head(f.table);
  EXPECT_EQ(foreign_ids(events), (std::vector<std::string>{"a", "b", "42"}));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, 1);
  EXPECT_EQ(events[0].metadata, bytes);
  EXPECT_EQ(events[0].trace, "00-ab-cd-01");
  EXPECT_EQ(events[1].type, 2);
  EXPECT_EQ(events[2].type, 3);
  EXPECT_TRUE(events[2].metadata.empty());
}

TEST(MySql, AnInserterRefusesAutocommitAMissingTableAndAnotherDialect) {
  FreshTable f("inserter_bad");
  auto conn = reflex::rsql::connect_mysql(f.dsn);
  reflex::rsql::MySqlInserter inserter(f.table, *conn);
  EXPECT_THROW((void)inserter.insert({.foreign_id = "x", .type = 1}), reflex::ConfigError)
      << "autocommit is on";
  const reflex::rsql::EventsTable missing(f.db, {.schema = {.table = unique_name("missing")}});
  EXPECT_THROW(reflex::rsql::MySqlInserter(missing, *conn), reflex::rsql::SchemaError);
  const std::string path = "/tmp/" + unique_name("inserter") + ".db";
  const reflex::rsql::EventsTable sqlite(reflex::rsql::Database::open("sqlite://" + path),
                                         {.schema = {.table = "events"}});
  EXPECT_THROW(reflex::rsql::MySqlInserter(sqlite, *conn), reflex::ConfigError);
  ::unlink(path.c_str());
  EXPECT_TRUE(read_to_head(f.table).empty());
}

TEST(MySql, AnInserterWhoseIdAReaderFoundUnclaimedFailsRetryablyAndIsNeverSkipped) {
  // As AnInsertWhoseIdAReaderFoundUnclaimed…, with the stalled writer on a prepared inserter.
  FreshTable f("inserter_stalled");
  f.table.publish(std::vector<reflex::rsql::NewEvent>{{.foreign_id = "a", .type = 1}});
  auto later = reflex::rsql::connect_mysql(f.dsn);
  later->setAutoCommit(false);
  exec(*later, "SET insert_id = 3");  // id 2 was drawn first, by the stalled writer
  (void)f.table.insert(*later, {.foreign_id = "c", .type = 1});
  later->commit();
  EXPECT_EQ(foreign_ids(read_to_head(f.table)), (std::vector<std::string>{"a", "c"}));

  auto stalled = reflex::rsql::connect_mysql(f.dsn);
  stalled->setAutoCommit(false);
  reflex::rsql::MySqlInserter inserter(f.table, *stalled);
  exec(*stalled, "SET insert_id = 2");
  try {
    (void)inserter.insert({.foreign_id = "b", .type = 1});
    stalled->commit();
    FAIL() << "the stalled insert committed id 2 behind a reader that had passed it";
  } catch (const reflex::rsql::DatabaseError& e) {
    EXPECT_TRUE(e.retryable()) << e.what();
    stalled->rollback();
  }
  (void)inserter.insert({.foreign_id = "b", .type = 1});
  stalled->commit();
  EXPECT_EQ(foreign_ids(read_to_head(f.table)), (std::vector<std::string>{"a", "c", "b"}));
}

TEST(MySql, AReaderWithoutInsertOnTheTableIsToldToGrantIt) {
  FreshTable f("grants");
  auto conn = reflex::rsql::connect_mysql(f.dsn);
  conn->setAutoCommit(false);
  (void)f.table.insert(*conn, {.foreign_id = "never", .type = 1});
  conn->rollback();  // a hole before the next event
  f.table.publish(std::vector<reflex::rsql::NewEvent>{{.foreign_id = "kept", .type = 1}});

  const auto uri = reflex::parse_uri(f.dsn);
  const std::string database = uri.path.substr(1);  // without its '/'
  const std::string user = "ro_" + std::to_string(::getpid());
  f.db->execute("CREATE USER IF NOT EXISTS '" + user + "'@'%'");
  f.db->execute("GRANT SELECT ON " + database + "." + f.name + " TO '" + user + "'@'%'");
  const reflex::rsql::EventsTable reader(
      Database::open("mysql://" + user + "@" + uri.host + ":" +
                     std::to_string(uri.port.value_or(3306)) + "/" + database),
      {.schema = {.table = f.name}});
  try {
    (void)read_to_head(reader);
    ADD_FAILURE() << "a reader that cannot fill the hole passed it";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("GRANT SELECT, INSERT"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(f.name), std::string::npos) << e.what();
  }
  f.db->execute("DROP USER '" + user + "'@'%'");
}

TEST(MySql, AHoleStillHeldFurtherOnDoesNotHoldBackTheHolesBeforeIt) {
  // Old holes of one read are probed together; one of them still held by an open transaction
  // must not keep the stream before the free ones ahead of it.
  const FreshEvents f("held");
  const EventsTable table(f.db, {.schema = {.table = f.name}});
  const auto committed = [&](const char* foreign_id) {
    const NewEvent e{.foreign_id = foreign_id, .type = 1};
    insert_committed(*f.backend, table, std::span(&e, 1));
  };
  committed("1");
  auto rolled_back = f.backend->producer();
  rolled_back->begin();
  (void)rolled_back->insert(table, {.foreign_id = "never", .type = 1});
  rolled_back->rollback();  // id 2: free
  committed("3");
  auto holder = f.backend->producer();
  holder->begin();
  (void)holder->insert(table, {.foreign_id = "4", .type = 1});  // id 4: held
  committed("5");
  std::this_thread::sleep_for(1100ms);  // both holes are old now

  Follower follower(table);
  follower.wait_for(2);
  EXPECT_EQ(follower.got(), (std::vector<std::string>{"1", "3"}));
  holder->commit();
  follower.wait_for(4);
  EXPECT_EQ(follower.got(), (std::vector<std::string>{"1", "3", "4", "5"}));
}

}  // namespace
}  // namespace reflex_test::rsql
