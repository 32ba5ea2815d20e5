// Inserting events on the caller's mysql-connector-c++ connection (autocommit off): one
// statement with literal values, or MySqlInserter's statement prepared once per connection; and
// connections for the caller's own transactions.
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>

#include <string>
#include <utility>

#include "access.hpp"
#include "error_mapping.hpp"
#include "events_table_impl.hpp"
#include "mysql/session.hpp"
#include "reflex/encoding.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/mysql.hpp"

namespace reflex::rsql {

namespace {

/// Rows and bytes of one INSERT of a batch (a row may take it past the bytes: one event is
/// bounded by EventsTableOptions::max_metadata_bytes).
constexpr std::size_t kMaxRowsPerStatement = 1000;
constexpr std::size_t kStatementBytes = 4 << 20;

/// Bytes as a MySQL hex literal: X'0a1b…'.
std::string hex_literal(std::string_view bytes) {
  std::string out = "X'";
  out.reserve(bytes.size() * 2 + 3);
  hex_append(out, bytes);
  return out + "'";
}

/// Runs `calls` (Connector/C++ calls of an insert) with their errors mapped as an insert's: the
/// connector's exception to reflex's (rethrow_mysql), then named for the table (a missing table
/// is a SchemaError, an id a stream reader took a retryable DatabaseError).
template <class Calls>
void run_insert(const detail::EventsTableImpl& t, Calls&& calls) {
  try {
    try {
      calls();
    } catch (...) {
      detail::rethrow_mysql(nullptr);
    }
  } catch (...) {
    detail::rethrow_insert_error(t.options.schema.table, t.dialect);
  }
}

}  // namespace

Notifier insert_events(const EventsTable& table, sql::Connection& conn,
                       std::span<const NewEvent> events) {
  auto& t = detail::Access::impl(table);
  t.expect_dialect(Dialect::mysql, "insert(sql::Connection&)");
  if (events.empty()) return t.notifier();
  for (const auto& e : events) t.check(e);
  try {
    auto* mysql = &detail::in_callers_transaction(conn, "insert(sql::Connection&)", "event");
    const bool metadata = !t.options.schema.metadata_column.empty();
    const bool trace = !t.options.schema.trace_column.empty();
    // Statements with literal values: a prepared statement would cost an extra round trip. Text
    // is escaped by the connection (its charset); bytes go as hex literals. A large batch goes
    // as several statements, each well below the server's max_allowed_packet (16 MiB by default).
    const std::string head =
        "INSERT INTO " + t.quoted_table + " (" + t.insert_columns(false) + ") VALUES ";
    std::unique_ptr<sql::Statement> st(conn.createStatement());
    std::string sql;
    std::size_t rows = 0;
    const auto send = [&] {
      try {
        st->execute(sql);
      } catch (...) {
        detail::rethrow_mysql(nullptr);
      }
      sql.clear();
      rows = 0;
    };
    for (const auto& e : events) {
      sql += rows == 0 ? head + "('" : ", ('";
      sql += mysql->escapeString(e.foreign_id.str()).asStdString();
      sql += "', ";
      sql += std::to_string(e.type);
      if (metadata) sql += ", " + hex_literal(e.metadata);
      if (trace) sql += ", " + hex_literal(e.trace);
      sql += ')';
      if (++rows == kMaxRowsPerStatement || sql.size() >= kStatementBytes) send();
    }
    if (rows > 0) send();
  } catch (const ConfigError&) {
    throw;
  } catch (...) {
    detail::rethrow_insert_error(t.options.schema.table, t.dialect);
  }
  return t.notifier();
}

struct MySqlInserter::Impl {
  std::shared_ptr<detail::EventsTableImpl> table;
  sql::Connection& conn;
  std::unique_ptr<sql::PreparedStatement> statement;
  bool metadata = false;
  bool trace = false;
};

MySqlInserter::MySqlInserter(const EventsTable& table, sql::Connection& connection) {
  auto& t = detail::Access::impl(table);
  t.expect_dialect(Dialect::mysql, "MySqlInserter");
  (void)detail::mysql_connection(connection, "MySqlInserter");
  const bool metadata = !t.options.schema.metadata_column.empty();
  const bool trace = !t.options.schema.trace_column.empty();
  std::string sql =
      "INSERT INTO " + t.quoted_table + " (" + t.insert_columns(false) + ") VALUES (?, ?";
  if (metadata) sql += ", ?";
  if (trace) sql += ", ?";
  sql += ')';
  std::unique_ptr<sql::PreparedStatement> statement;
  run_insert(t, [&] { statement.reset(connection.prepareStatement(sql)); });
  impl_ = std::make_unique<Impl>(Impl{.table = t.shared_from_this(),
                                      .conn = connection,
                                      .statement = std::move(statement),
                                      .metadata = metadata,
                                      .trace = trace});
}

MySqlInserter::~MySqlInserter() = default;

Notifier MySqlInserter::insert(const NewEvent& event) {
  auto& t = *impl_->table;
  t.check(event);
  (void)detail::in_callers_transaction(impl_->conn, "MySqlInserter::insert", "event");
  run_insert(t, [&] {
    auto& st = *impl_->statement;
    // Bound as strings, sent as bytes: the metadata and trace columns are binary, so the server
    // stores them as they are (no character set conversion).
    st.setString(1, event.foreign_id.str());
    st.setInt(2, event.type);
    int n = 2;
    if (impl_->metadata) st.setString(++n, event.metadata);
    if (impl_->trace) st.setString(++n, event.trace);
    st.executeUpdate();
  });
  return t.notifier();
}

std::unique_ptr<sql::Connection> connect_mysql(std::string_view dsn,
                                               const DatabaseOptions& options) {
  const Uri uri = parse_uri(dsn);
  if (uri.scheme != "mysql" && uri.scheme != "mariadb") {
    throw ConfigError("connect_mysql: " + uri.redacted() +
                      " is not a MySQL DSN; use mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE");
  }
  return detail::open_mysql_connection(detail::connect_info(uri, options), false);
}

std::unique_ptr<Sql> sql_on(const Database& database, sql::Connection& transaction) {
  const auto& driver = detail::Access::driver(database);
  if (driver.dialect() != Dialect::mysql) {
    throw ConfigError("sql_on(sql::Connection&) got a " + std::string(to_string(driver.dialect())) +
                      " database (" + driver.redacted_dsn() + ")");
  }
  return detail::callers_mysql_sql(transaction);
}

}  // namespace reflex::rsql
