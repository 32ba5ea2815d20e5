// Inserting events on the caller's own sqlite3 connection, inside its open transaction.
#include <sqlite3.h>

#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "access.hpp"
#include "error_mapping.hpp"
#include "events_table_impl.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/sqlite.hpp"
#include "sqlite/session.hpp"
#include "values.hpp"

namespace reflex::rsql {

Notifier insert_events(const EventsTable& table, sqlite3* db, std::span<const NewEvent> events) {
  auto& t = detail::Access::impl(table);
  t.expect_dialect(Dialect::sqlite, "insert(sqlite3*)");
  if (db == nullptr) throw ConfigError("insert(sqlite3*) got a null connection");
  if (sqlite3_get_autocommit(db) != 0) {
    throw ConfigError(
        "insert needs an open transaction (BEGIN … COMMIT on this connection) so "
        "that the event commits with your change");
  }
  if (events.empty()) return t.notifier();
  for (const auto& e : events) t.check(e);
  const bool metadata = !t.options.schema.metadata_column.empty();
  const bool trace = !t.options.schema.trace_column.empty();
  const int per_row = 3 + (metadata ? 1 : 0) + (trace ? 1 : 0);
  const std::string head =
      "INSERT INTO " + t.quoted_table + " (" + t.insert_columns(true) + ") VALUES ";
  std::string row = "(?";
  for (int i = 1; i < per_row; ++i) row += ", ?";
  row += ")";
  // SQLite binds at most 32766 parameters per statement.
  constexpr std::size_t kRowsPerStatement = 1000;
  const std::int64_t now = detail::to_micros(std::chrono::system_clock::now());
  std::vector<detail::Param> params;
  for (std::size_t offset = 0; offset < events.size(); offset += kRowsPerStatement) {
    const auto chunk = events.subspan(offset, std::min(kRowsPerStatement, events.size() - offset));
    std::string sql = head;
    params.clear();
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      if (i) sql += ", ";
      sql += row;
      const auto& e = chunk[i];
      params.emplace_back(std::string_view(e.foreign_id.str()));
      params.emplace_back(static_cast<std::int64_t>(e.type));
      if (metadata) params.emplace_back(detail::Blob{e.metadata});
      if (trace) params.emplace_back(detail::Blob{e.trace});
      params.emplace_back(now);
    }
    try {
      detail::Statement stmt(db, sql);
      stmt.bind(params);
      stmt.run(nullptr);
    } catch (...) {
      detail::rethrow_with_schema_hint(t.options.schema.table, "events_ddl", t.dialect);
    }
  }
  return t.notifier();
}

namespace {

/// Statements on a caller's connection inside its transaction (sql_on).
class CallersSqliteSql final : public Sql {
 public:
  explicit CallersSqliteSql(sqlite3* db) : db_(db) {}

  void query(std::string_view sql, std::span<const detail::Param> params,
             const detail::RowCallback& on_row) override {
    auto& stmt = statement(sql);
    stmt.bind(params);
    stmt.run(&on_row);
  }
  std::uint64_t execute(std::string_view sql, std::span<const detail::Param> params) override {
    auto& stmt = statement(sql);
    stmt.bind(params);
    stmt.run(nullptr);
    return static_cast<std::uint64_t>(sqlite3_changes64(db_));
  }

 private:
  detail::Statement& statement(std::string_view sql) {
    auto it = statements_.find(std::string(sql));
    if (it == statements_.end()) {
      it = statements_.emplace(std::string(sql), std::make_unique<detail::Statement>(db_, sql))
               .first;
    }
    return *it->second;
  }

  sqlite3* db_;
  std::unordered_map<std::string, std::unique_ptr<detail::Statement>> statements_;
};

}  // namespace

std::unique_ptr<Sql> sql_on(const Database& database, sqlite3* transaction) {
  const auto& driver = detail::Access::driver(database);
  if (driver.dialect() != Dialect::sqlite) {
    throw ConfigError("sql_on(sqlite3*) got a " + std::string(to_string(driver.dialect())) +
                      " database (" + driver.redacted_dsn() + ")");
  }
  if (transaction == nullptr) throw ConfigError("sql_on(sqlite3*) got a null connection");
  if (sqlite3_get_autocommit(transaction) != 0) {
    throw ConfigError(
        "sql_on(sqlite3*) needs an open transaction (BEGIN … COMMIT on this connection) so that "
        "the statements commit with the events");
  }
  return std::make_unique<CallersSqliteSql>(transaction);
}

}  // namespace reflex::rsql
