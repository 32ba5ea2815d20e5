// Inserting events on the caller's libpqxx transaction: one prepared INSERT for one event, a
// multi-row INSERT for a few, COPY for many; and insert_with, the event riding on the caller's
// own statement.
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <tuple>
#include <vector>

#include "access.hpp"
#include "error_mapping.hpp"
#include "events_table_impl.hpp"
#include "postgres/session.hpp"
#include "postgres/statement_scan.hpp"
#include "reflex/encoding.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/postgres.hpp"
#include "sql_text.hpp"

namespace reflex::rsql {

namespace {

/// Batches from this size on go by COPY: one round trip more than an INSERT, but no statement
/// to parse and no parameters to bind per row, which wins from a few dozen rows on.
constexpr std::size_t kCopyFrom = 32;

/// Inserts `events` with COPY on the caller's transaction.
void copy_events(detail::EventsTableImpl& t, pqxx::transaction_base& tx,
                 std::span<const NewEvent> events, bool metadata, bool trace) {
  const auto& s = t.options.schema;
  std::vector<std::string> columns = {detail::quote(Dialect::postgres, s.foreign_id_column),
                                      detail::quote(Dialect::postgres, s.type_column)};
  if (metadata) columns.push_back(detail::quote(Dialect::postgres, s.metadata_column));
  if (trace) columns.push_back(detail::quote(Dialect::postgres, s.trace_column));
  pqxx::stream_to out(tx, t.quoted_table, columns);
  for (const auto& e : events) {
    if (metadata && trace) {
      out << std::make_tuple(e.foreign_id.str(), e.type, detail::to_hex_bytea(e.metadata),
                             detail::to_hex_bytea(e.trace));
    } else if (metadata) {
      out << std::make_tuple(e.foreign_id.str(), e.type, detail::to_hex_bytea(e.metadata));
    } else if (trace) {
      out << std::make_tuple(e.foreign_id.str(), e.type, detail::to_hex_bytea(e.trace));
    } else {
      out << std::make_tuple(e.foreign_id.str(), e.type);
    }
  }
  out.complete();
}

/// Runs an insert on the caller's transaction, its errors as reflex's: a missing table or column
/// that PostgreSQL names as the events table's becomes a SchemaError with the DDL helper; one of
/// another table (insert_with's statement is the caller's) stays the caller's to read.
template <class Statement>
void run_insert(const detail::EventsTableImpl& t, Statement&& statement) {
  try {
    try {
      statement();
    } catch (...) {
      detail::rethrow_pg(nullptr);
    }
  } catch (const DatabaseError& e) {
    const std::string quoted = "\"" + t.options.schema.table + "\"";
    if (std::string_view(e.what()).find(quoted) == std::string_view::npos) throw;
    detail::rethrow_with_schema_hint(t.options.schema.table, "events_ddl", t.dialect);
  }
}

/// An event's parameters as text, in the order of EventsTableImpl::insert_columns(false).
void event_params(const detail::EventsTableImpl& t, const NewEvent& e,
                  std::vector<std::string>& out) {
  out.push_back(e.foreign_id.str());
  out.push_back(std::to_string(e.type));
  if (!t.options.schema.metadata_column.empty()) out.push_back(detail::to_hex_bytea(e.metadata));
  if (!t.options.schema.trace_column.empty()) out.push_back(detail::to_hex_bytea(e.trace));
}

}  // namespace

Notifier insert_events(const EventsTable& table, pqxx::transaction_base& tx,
                       std::span<const NewEvent> events) {
  auto& t = detail::Access::impl(table);
  t.expect_dialect(Dialect::postgres, "insert(pqxx::transaction_base&)");
  if (events.empty()) return t.notifier();
  for (const auto& e : events) t.check(e);
  const bool metadata = !t.options.schema.metadata_column.empty();
  const bool trace = !t.options.schema.trace_column.empty();
  if (events.size() >= kCopyFrom) {
    run_insert(t, [&] { copy_events(t, tx, events, metadata, trace); });
    return t.notifier();
  }
  const std::size_t per_row = 2 + (metadata ? 1 : 0) + (trace ? 1 : 0);
  // "INSERT INTO t (...) VALUES ($1, $2), ($3, $4), ..." for `rows` rows.
  const auto insert_sql = [&](std::size_t rows) {
    std::string sql =
        "INSERT INTO " + t.quoted_table + " (" + t.insert_columns(false) + ") VALUES ";
    int n = 0;
    for (std::size_t i = 0; i < rows; ++i) {
      sql += i ? ", (" : "(";
      for (std::size_t c = 0; c < per_row; ++c) {
        if (c) sql += ", ";
        sql += '$';
        sql += std::to_string(++n);
      }
      sql += ')';
    }
    return sql;
  };
  std::vector<std::string> storage;
  storage.reserve(events.size() * per_row);
  for (const auto& e : events) event_params(t, e, storage);
  std::vector<const char*> pointers;
  pointers.reserve(storage.size());
  for (const auto& value : storage) pointers.push_back(value.c_str());
  if (events.size() == 1) {
    // The producer's hot path: a statement prepared once per connection, its text and name built
    // once per table (the name derives from the text, so tables and schemas never collide; pqxx
    // prepares it lazily on each connection and again after a reconnect). Behind a transaction
    // pooler it goes unnamed.
    const auto& one = t.single_insert([&] {
      detail::EventsTableImpl::SingleInsert built{.sql = insert_sql(1), .name = {}};
      built.name = detail::statement_name("reflex_insert_", built.sql);
      return built;
    });
    run_insert(t, [&] {
      (void)detail::exec_statement(tx, t.driver.keeps_session_state(), one.name, one.sql, pointers);
    });
  } else {
    const std::string sql = insert_sql(events.size());
    run_insert(t, [&] { tx.exec_params(sql, pqxx::prepare::make_dynamic_params(pointers)); });
  }
  return t.notifier();
}

Notifier insert_events_with(const EventsTable& table, pqxx::transaction_base& transaction,
                            std::string_view statement,
                            const std::vector<std::optional<std::string>>& params,
                            const NewEvent& event) {
  auto& t = detail::Access::impl(table);
  if (t.dialect != Dialect::postgres) {
    throw ConfigError("insert_with() is for PostgreSQL (a data-modifying WITH); on " +
                      std::string(to_string(t.dialect)) + " run the statement, then insert()");
  }
  t.check(event);
  statement = detail::trim_statement(statement);
  const std::string keyword = detail::first_keyword(statement);
  if (keyword != "insert" && keyword != "update" && keyword != "delete" && keyword != "with") {
    throw ConfigError(
        "insert_with() takes the change the event belongs to: an INSERT, UPDATE, "
        "DELETE or WITH statement, not \"" +
        std::string(statement.substr(0, 40)) + "\"");
  }
  const std::size_t used = detail::highest_parameter(statement);
  if (used > params.size()) {
    throw ConfigError("insert_with(): the statement uses $" + std::to_string(used) + " but " +
                      std::to_string(params.size()) +
                      " parameters were given (the event's own follow them)");
  }
  std::vector<std::string> values;
  event_params(t, event, values);
  // The newline ends a trailing `--` comment of the statement before our parenthesis.
  std::string sql = "WITH reflex_change AS (" + std::string(statement) + "\n) INSERT INTO " +
                    t.quoted_table + " (" + t.insert_columns(false) + ") VALUES (";
  for (std::size_t i = 0; i < values.size(); ++i) {
    sql += (i ? ", $" : "$") + std::to_string(params.size() + i + 1);
  }
  sql += ')';
  std::vector<const char*> pointers;
  pointers.reserve(params.size() + values.size());
  for (const auto& p : params) pointers.push_back(p ? p->c_str() : nullptr);
  for (const auto& v : values) pointers.push_back(v.c_str());
  // Prepared once per connection and statement, as a service's own statements are.
  const std::string name = detail::statement_name("reflex_with_", sql);
  run_insert(t, [&] {
    (void)detail::exec_statement(transaction, t.driver.keeps_session_state(), name, sql, pointers);
  });
  return t.notifier();
}

std::unique_ptr<Sql> sql_on(const Database& database, pqxx::transaction_base& transaction) {
  auto& driver = detail::Access::driver(database);
  if (driver.dialect() != Dialect::postgres) {
    throw ConfigError("sql_on(pqxx::transaction_base&) got a " +
                      std::string(to_string(driver.dialect())) + " database (" +
                      driver.redacted_dsn() + ")");
  }
  return detail::callers_pg_sql(transaction, driver.keeps_session_state());
}

}  // namespace reflex::rsql
