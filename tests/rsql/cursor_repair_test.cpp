// What an operator's repairs leave behind in a cursors table, on any dialect: a cursor set to
// something that is not a number (by force_set, or by another tool) does not wedge the next
// ordinary write.

#include <gtest/gtest.h>

#include "backend.hpp"
#include "reflex/errors.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test::rsql {
namespace {

using reflex::rsql::CursorsTable;
using reflex::rsql::CursorsTableOptions;

TEST(CursorRepair, ANumberReplacesACursorThatIsNoneAndIsThenForwardOnlyAgain) {
  const OnBackend on;
  const auto& db = on.db;
  const std::string name = unique_name("repair_cursors");
  db->create_cursors_table({.table = name});
  CursorsTable cursors(db, CursorsTableOptions{.schema = {.table = name}, .flush_interval = {}});
  cursors.force_set("c", "abc");
  EXPECT_NO_THROW(cursors.set("c", "5")) << "the store kept changing concurrently, it said";
  CursorsTable fresh(db, CursorsTableOptions{.schema = {.table = name}, .flush_interval = {}});
  EXPECT_EQ(fresh.get("c"), "5");
  EXPECT_THROW(fresh.set("c", "4"), reflex::CursorConflict);
  cursors.force_set("c", "");  // back to the beginning, on purpose
  EXPECT_NO_THROW(cursors.set("c", "1"));
  EXPECT_EQ(CursorsTable(db, CursorsTableOptions{.schema = {.table = name}}).get("c"), "1");
}

}  // namespace
}  // namespace reflex_test::rsql
