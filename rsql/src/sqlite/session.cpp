#include "sqlite/session.hpp"

#include <sqlite3.h>

#include "reflex/errors.hpp"
#include "reflex/rsql/errors.hpp"

namespace reflex::rsql::detail {

namespace {

DatabaseErrorKind kind_of(int code, std::string_view message) {
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return DatabaseErrorKind::transient;
    case SQLITE_CONSTRAINT:
      if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return DatabaseErrorKind::unique_violation;
      }
      return DatabaseErrorKind::data;
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
      return DatabaseErrorKind::data;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
      return DatabaseErrorKind::connection;
    default:
      break;
  }
  if (message.starts_with("no such table")) return DatabaseErrorKind::undefined_table;
  if (message.starts_with("no such column") ||
      message.find("has no column named") != message.npos) {
    return DatabaseErrorKind::undefined_column;
  }
  return DatabaseErrorKind::other;
}

[[noreturn]] void fail(sqlite3* db, int code, std::string_view context) {
  const std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  throw DatabaseError(
      kind_of(sqlite3_extended_errcode(db) ? sqlite3_extended_errcode(db) : code, message),
      "sqlite: " + std::string(context) + ": " + message);
}

}  // namespace

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) fail(db, rc, "preparing " + std::string(sql.substr(0, 60)));
}
Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

void Statement::bind(std::span<const Param> params) {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  int index = 1;
  for (const auto& param : params) {
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::nullptr_t>(param)) {
      rc = sqlite3_bind_null(stmt_, index);
    } else if (const auto* i = std::get_if<std::int64_t>(&param)) {
      rc = sqlite3_bind_int64(stmt_, index, *i);
    } else if (const auto* t = std::get_if<std::string_view>(&param)) {
      rc = sqlite3_bind_text64(stmt_, index, t->data(), t->size(), SQLITE_STATIC, SQLITE_UTF8);
    } else {
      const auto& b = std::get<Blob>(param).bytes;
      rc = sqlite3_bind_blob64(stmt_, index, b.empty() ? "" : b.data(), b.size(), SQLITE_STATIC);
    }
    if (rc != SQLITE_OK) fail(db_, rc, "binding a parameter");
    ++index;
  }
}

void Statement::run(const RowCallback* on_row) {
  struct SqliteRow final : Row {
    sqlite3_stmt* stmt;
    bool is_null(int c) const override { return sqlite3_column_type(stmt, c) == SQLITE_NULL; }
    std::int64_t int64(int c) const override { return sqlite3_column_int64(stmt, c); }
    std::string_view text(int c) const override {
      const void* data = sqlite3_column_blob(stmt, c);
      const int size = sqlite3_column_bytes(stmt, c);
      return data ? std::string_view(static_cast<const char*>(data), static_cast<std::size_t>(size))
                  : std::string_view();
    }
  } row;
  row.stmt = stmt_;
  for (;;) {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) {
      if (on_row) (*on_row)(row);
      continue;
    }
    if (rc == SQLITE_DONE) break;
    sqlite3_reset(stmt_);
    fail(db_, rc, "executing");
  }
  sqlite3_reset(stmt_);
}

SqliteSession::SqliteSession(const std::string& path, const DatabaseOptions& options) {
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                    (options.create_missing ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    if (!options.create_missing && (rc & 0xff) == SQLITE_CANTOPEN) {
      throw ConfigError("no SQLite database at '" + path + "': check the path (" + message + ")");
    }
    throw ConfigError("cannot open SQLite database '" + path + "': " + message +
                      " (does the directory exist and is it writable?)");
  }
  sqlite3_busy_timeout(db_, static_cast<int>(options.busy_timeout.count()));
  // A double-quoted name that matches no column must be an error, not a string literal.
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DQS_DML, 0, nullptr);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DQS_DDL, 0, nullptr);
  // WAL lets readers stream while a writer commits; NORMAL sync is durable in WAL mode except
  // for the last commits on power loss (reflex's own writes are cursors and error records).
  execute_script("PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL");
}
SqliteSession::~SqliteSession() {
  statements_.clear();
  sqlite3_close(db_);
}

void SqliteSession::query(std::string_view sql, std::span<const Param> params,
                          const RowCallback& on_row) {
  auto& stmt = statement(sql);
  stmt.bind(params);
  stmt.run(&on_row);
}

std::uint64_t SqliteSession::execute(std::string_view sql, std::span<const Param> params) {
  auto& stmt = statement(sql);
  stmt.bind(params);
  stmt.run(nullptr);
  return static_cast<std::uint64_t>(sqlite3_changes64(db_));
}

void SqliteSession::execute_script(std::string_view statements) {
  const std::string sql(statements);
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    const std::string message = error ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    throw DatabaseError(kind_of(rc, message), "sqlite: " + message);
  }
}

void SqliteSession::begin() {
  execute_script("BEGIN IMMEDIATE");
}
void SqliteSession::commit() {
  execute_script("COMMIT");
}
void SqliteSession::rollback() noexcept {
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Statement& SqliteSession::statement(std::string_view sql) {
  auto it = statements_.find(std::string(sql));
  if (it == statements_.end()) {
    it = statements_.emplace(std::string(sql), std::make_unique<Statement>(db_, sql)).first;
  }
  return *it->second;
}

}  // namespace reflex::rsql::detail
