// The dead-letter table on any dialect.

#include <gtest/gtest.h>

#include "backend.hpp"
#include "reflex/errors.hpp"
#include "reflex/reflex.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test::rsql {
namespace {

using reflex::rsql::ErrorsSchema;
using reflex::rsql::ErrorsTable;
using reflex::rsql::ErrorStatus;

class Errors : public ::testing::Test, protected OnBackend {
 protected:
  Errors() { db->create_errors_table(schema); }
  ErrorsSchema schema{.table = unique_name("errors"), .events_table = unique_name("errev")};
};

std::vector<reflex::Event> error_events(const ErrorsTable& errors) {
  return read_to_head(errors.events());
}

TEST_F(Errors, RecordsConsumerAndEventIdInTheirOwnColumns) {
  ErrorsTable errors(db, schema);
  const std::string id = errors.record("billing", "1234", "card declined");
  const auto rows = errors.list();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, id);
  EXPECT_EQ(rows[0].consumer, "billing");
  EXPECT_EQ(rows[0].event_id, "1234");
  EXPECT_EQ(rows[0].message, "card declined");
  EXPECT_EQ(rows[0].status, ErrorStatus::open);
  EXPECT_LT(std::chrono::abs(rows[0].created_at - std::chrono::system_clock::now()),
            std::chrono::minutes(1));
}

TEST_F(Errors, RecordingTheSameFailureTwiceKeepsOneRowAndOneEvent) {
  ErrorsTable errors(db, schema);
  const std::string first = errors.record("billing", "7", "timeout");
  const std::string again = errors.record("billing", "7", "timeout again");
  EXPECT_EQ(first, again);
  (void)errors.record("shipping", "7", "other consumer, same event");
  const auto rows = errors.list("billing");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].message, "timeout again");
  EXPECT_GE(rows[0].updated_at, rows[0].created_at);
  EXPECT_EQ(errors.list().size(), 2u);

  const auto events = error_events(errors);
  ASSERT_EQ(events.size(), 2u) << "one event per distinct failure";
  EXPECT_EQ(events[0].foreign_id, first);
  EXPECT_EQ(events[0].type, 1);
}

TEST_F(Errors, StatusCanBeResolved) {
  ErrorsTable errors(db, schema);
  const std::string id = errors.record("c", "1", "m");
  EXPECT_TRUE(errors.set_status(id, ErrorStatus::resolved));
  EXPECT_EQ(errors.list()[0].status, ErrorStatus::resolved);
  EXPECT_FALSE(errors.set_status("999999", ErrorStatus::resolved));
  EXPECT_THROW(errors.set_status("x", ErrorStatus::resolved), reflex::ConfigError);
}

TEST_F(Errors, EmptyNamesAndAMissingTableAreClearErrors) {
  ErrorsTable errors(db, schema);
  EXPECT_THROW((void)errors.record("", "1", "m"), reflex::ConfigError);
  EXPECT_THROW((void)errors.record("c", "", "m"), reflex::ConfigError);
  ErrorsTable missing(db, ErrorsSchema{.table = "no_such_errors", .events_table = "no_such_ev"});
  try {
    (void)missing.record("c", "1", "m");
    FAIL() << "expected SchemaError";
  } catch (const reflex::rsql::SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_errors"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("errors_ddl"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace reflex_test::rsql
