// SQLite specifics: where the database file comes from.

#include "reflex/rsql/sqlite.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

#include "reflex/errors.hpp"
#include "reflex/rsql/rsql.hpp"
#include "reflex_test/env.hpp"
#if REFLEX_RSQL_HAS_POSTGRES
#include "reflex/rsql/postgres.hpp"
#endif

namespace {

TEST(Sqlite, AReaderThatMayNotCreateTheFileNamesAMissingOneAndLeavesNoFileBehind) {
  reflex_test::TempDir dir;
  const auto path = dir.path() / "missing.db";
  auto db = reflex::rsql::Database::open("sqlite://" + path.string(), {.create_missing = false});
  reflex::rsql::EventsTable events(db);
  try {
    (void)events.head();
    FAIL() << "a missing database file was opened";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no SQLite database at '" + path.string() + "'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(path)) << "a reader created an empty database";
  // By default the file is created (a producer's first start).
  reflex::rsql::Database::open("sqlite://" + path.string())->create_events_table();
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(reflex::rsql::EventsTable(db).head(), "") << "and then the reader opens it";
}

TEST(Sqlite, TransactionalCursorsOfAnotherDialectAreAConfigErrorNamingTheRightHeader) {
  reflex_test::TempDir dir;
  auto db = reflex::rsql::Database::open("sqlite://" + (dir.path() / "t.db").string());
  EXPECT_NO_THROW((void)reflex::rsql::transactional_cursors<sqlite3*>(db));
  EXPECT_THROW((void)reflex::rsql::transactional_cursors<sqlite3*>(nullptr), reflex::ConfigError);
#if REFLEX_RSQL_HAS_POSTGRES
  try {
    (void)reflex::rsql::transactional_cursors<pqxx::transaction_base&>(db);
    ADD_FAILURE() << "PostgreSQL cursors on an SQLite database";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("<reflex/rsql/sqlite.hpp>"), std::string::npos)
        << e.what();
  }
#endif
}

TEST(Sqlite, AnInboxRecordOutsideATransactionIsAConfigError) {
  reflex_test::TempDir dir;
  const std::string path = (dir.path() / "t.db").string();
  auto db = reflex::rsql::Database::open("sqlite://" + path);
  db->create_inbox_table();
  reflex::rsql::Inbox inbox(db, {.purge_interval = std::chrono::milliseconds(0)});
  sqlite3* conn = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &conn), SQLITE_OK);
  EXPECT_THROW((void)reflex::rsql::record(inbox, conn, "orders", "1"), reflex::ConfigError);
  sqlite3_close(conn);
  EXPECT_FALSE(inbox.contains("orders", "1"));
}

}  // namespace
