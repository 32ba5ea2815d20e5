// SQLite specifics: where the database file comes from.

#include <gtest/gtest.h>

#include <filesystem>

#include "reflex/errors.hpp"
#include "reflex/rsql/rsql.hpp"
#include "reflex_test/env.hpp"

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

}  // namespace
