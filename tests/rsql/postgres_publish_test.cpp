// EventsTable::publish on PostgreSQL sends a batch the way the producer API does (COPY), not as
// one INSERT per event: counted by the server itself (pg_stat_statements, loaded by
// scripts/services).

#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "reflex/rsql/rsql.hpp"
#include "reflex_test/env.hpp"

namespace {

using reflex::rsql::Database;
using reflex::rsql::EventsTable;
using reflex::rsql::NewEvent;
using reflex_test::required_env;
using reflex_test::unique_name;

/// How many INSERT and COPY statements the server ran on `table` so far.
long long writes_to(pqxx::connection& conn, const std::string& table) {
  pqxx::nontransaction tx(conn);
  return tx
      .exec_params1(
          "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query ILIKE '%' || $1 || "
          "'%' AND (query ILIKE 'insert%' OR query ILIKE 'copy%')",
          table)[0]
      .as<long long>();
}

TEST(PostgresPublish, ABatchOfManyEventsIsAFewStatementsNotOneInsertPerEvent) {
  const std::string dsn = required_env("REFLEX_TEST_PG_DSN");
  auto db = Database::open(dsn);
  const std::string table = unique_name("publish_events");
  db->create_events_table({.table = table});
  EventsTable events(db, {.schema = {.table = table}});
  pqxx::connection conn(dsn);
  const long long before = writes_to(conn, table);

  std::vector<NewEvent> batch;
  for (int i = 0; i < 5000; ++i) {
    batch.push_back({.foreign_id = std::to_string(i), .type = 1, .metadata = "m", .trace = {}});
  }
  events.publish(batch);

  EXPECT_LE(writes_to(conn, table) - before, 3) << "publish sent one statement per event";
  // And every event is there, in order.
  pqxx::nontransaction tx(conn);
  const auto rows = tx.exec("SELECT foreign_id FROM " + table + " ORDER BY id");
  ASSERT_EQ(rows.size(), 5000u);
  for (int i = 0; i < 5000; ++i) EXPECT_EQ(rows[i][0].as<std::string>(), std::to_string(i));
}

}  // namespace
