#include "reflex/rsql/database.hpp"

#include <charconv>
#include <string>

#include "driver.hpp"
#include "reflex/errors.hpp"
#include "reflex/event.hpp"
#include "reflex/rsql/errors.hpp"
#include "reflex/uri.hpp"

namespace reflex::rsql {

CursorConflict::CursorConflict(std::string consumer, std::string stored, std::string refused)
    : CursorError("cursor of consumer '" + consumer + "' not moved back from " + stored + " to " +
                  refused +
                  ": another runner of this consumer has advanced it (run one runner per "
                  "consumer; to rewind on purpose use force_set / reflexctl cursors set --force)"),
      consumer_(std::move(consumer)),
      stored_(std::move(stored)),
      refused_(std::move(refused)) {}

std::shared_ptr<Database> Database::open(std::string_view dsn, const DatabaseOptions& options) {
  const Uri uri = parse_uri(dsn);
  std::shared_ptr<detail::Driver> driver;
  if (uri.scheme == "sqlite") {
    driver = detail::make_sqlite_driver(uri, options);
  } else if (uri.scheme == "postgresql" || uri.scheme == "postgres") {
    driver = detail::make_postgres_driver(uri, options);
  } else if (uri.scheme == "mysql" || uri.scheme == "mariadb") {
    driver = detail::make_mysql_driver(uri, options);
  } else {
    throw ConfigError("unknown database scheme '" + uri.scheme + "' in " + uri.redacted() +
                      ": use postgresql://, mysql:// (or mariadb://) or sqlite:///");
  }
  return std::make_shared<Database>(std::move(driver));
}

Database::Database(std::shared_ptr<detail::Driver> driver) : driver_(std::move(driver)) {}
Database::~Database() = default;

Dialect Database::dialect() const noexcept {
  return driver_->dialect();
}
const std::string& Database::redacted_dsn() const noexcept {
  return driver_->redacted_dsn();
}

void Database::ping() const {
  auto session = driver_->connect();
  session->query("SELECT 1", {}, [](const detail::Row&) {});
}

void Database::execute(std::string_view statements) const {
  auto session = driver_->connect();
  session->execute_script(statements);
}

void Database::create_events_table(const EventsSchema& schema) const {
  execute(events_ddl(dialect(), schema));
}
void Database::create_cursors_table(const CursorsSchema& schema) const {
  execute(cursors_ddl(dialect(), schema));
}
void Database::create_errors_table(const ErrorsSchema& schema) const {
  execute(errors_ddl(dialect(), schema));
}

namespace detail {

SessionPool::Lease SessionPool::lease() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto session = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(session), true);
    }
  }
  return Lease(this, driver_->connect(), false);
}

void SessionPool::give_back(std::unique_ptr<Session> session) {
  if (session->broken()) return;
  std::lock_guard lock(mutex_);
  if (idle_.size() < 4) idle_.push_back(std::move(session));
}

std::int64_t parse_cursor(std::string_view cursor, std::string_view table) {
  if (cursor.empty()) return 0;
  const auto value = parse_int64(cursor);
  if (!value || *value < 0) {
    throw CursorError("cursor '" + std::string(cursor) + "' is not an event id of table '" +
                      std::string(table) +
                      "': expected a non-negative decimal id (or \"\" for the beginning)");
  }
  return *value;
}

void rethrow_with_schema_hint(std::string_view table, std::string_view ddl_helper,
                              Dialect dialect) {
  try {
    throw;
  } catch (const DatabaseError& e) {
    if (e.kind() == DatabaseErrorKind::undefined_table) {
      throw SchemaError("table '" + std::string(table) + "' does not exist (" +
                        std::string(to_string(dialect)) +
                        "): create it with the DDL from reflex::rsql::" + std::string(ddl_helper) +
                        "() (or `reflexctl schema " + std::string(to_string(dialect)) +
                        "`); database said: " + e.what());
    }
    if (e.kind() == DatabaseErrorKind::undefined_column) {
      throw SchemaError(
          "table '" + std::string(table) +
          "' lacks a column reflex uses: compare it with reflex::rsql::" + std::string(ddl_helper) +
          "() and the schema names in the options; database said: " + e.what());
    }
    throw;
  }
}

namespace {

/// MariaDB says "for key 'PRIMARY'", MySQL 8 "for key 'TABLE.PRIMARY'"; a unique index of the
/// user's own on another column is theirs to explain.
bool id_taken(Dialect dialect, const DatabaseError& e) {
  return dialect == Dialect::mysql && e.kind() == DatabaseErrorKind::unique_violation &&
         std::string_view(e.what()).find("PRIMARY'") != std::string_view::npos;
}

}  // namespace

void rethrow_insert_error(std::string_view table, Dialect dialect) {
  try {
    throw;
  } catch (const DatabaseError& e) {
    if (id_taken(dialect, e)) {
      throw DatabaseError(
          DatabaseErrorKind::transient,
          "insert into '" + std::string(table) +
              "' lost its id: a stream reader found the id unclaimed (the insert was between "
              "drawing its AUTO_INCREMENT id and writing its row) and filled it with a no-op row, "
              "so that no reader can pass it. Nothing of the insert was written: roll back and run "
              "the transaction again. Database said: " +
              e.what());
    }
  } catch (...) {
  }
  rethrow_with_schema_hint(table, "events_ddl", dialect);
}

bool insert_may_run_again(Dialect dialect) {
  try {
    throw;
  } catch (const DatabaseError& e) {
    return e.kind() == DatabaseErrorKind::transient || id_taken(dialect, e);
  } catch (...) {
    return false;
  }
}

std::chrono::system_clock::time_point from_micros(std::int64_t micros) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::microseconds(micros)));
}

std::int64_t to_micros(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
}

void check_new_event(const InsertLimits& limits, const std::string& foreign_id, int type,
                     const std::string& metadata, const std::string& trace) {
  if (!metadata.empty() && !limits.has_metadata) {
    throw ConfigError("event metadata given, but table '" + std::string(limits.table) +
                      "' has no metadata column (EventsSchema::metadata_column is empty)");
  }
  if (!trace.empty() && !limits.has_trace) {
    throw ConfigError("event trace given, but table '" + std::string(limits.table) +
                      "' has no trace column (EventsSchema::trace_column is empty)");
  }
  if (metadata.size() > limits.max_metadata_bytes) {
    throw ConfigError("event metadata of " + std::to_string(metadata.size()) +
                      " bytes exceeds the limit of " + std::to_string(limits.max_metadata_bytes) +
                      " bytes for table '" + std::string(limits.table) +
                      "' (EventsTableOptions::max_metadata_bytes); store large payloads elsewhere "
                      "and reference them");
  }
  if (trace.size() > limits.max_trace_bytes) {
    throw ConfigError("event trace of " + std::to_string(trace.size()) +
                      " bytes exceeds the limit of " + std::to_string(limits.max_trace_bytes) +
                      " bytes (EventsTableOptions::max_trace_bytes)");
  }
  if (is_noop(type, foreign_id)) {
    throw ConfigError(
        "an event needs a foreign id or a non-zero type: type 0 with an empty "
        "foreign id marks reflex's internal no-op rows");
  }
}

}  // namespace detail
}  // namespace reflex::rsql
