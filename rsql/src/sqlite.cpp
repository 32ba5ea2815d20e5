// The SQLite dialect: the embedded default.
//
// Gap safety needs no extra machinery here: SQLite has one writer at a time, and an id
// (INTEGER PRIMARY KEY AUTOINCREMENT) is drawn inside the writing transaction, which holds the
// database's write lock until it commits. So ids become visible in the order they were drawn, and
// a reader never sees id n+1 while id n may still commit. A hole (a rolled-back insert) is final
// the moment a reader sees anything after it.

#include <sqlite3.h>

#include <string>
#include <unordered_map>

#include "driver.hpp"
#include "events_table_impl.hpp"
#include "reflex/errors.hpp"
#include "sql_text.hpp"

namespace reflex::rsql {

namespace detail {
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

/// A prepared statement, finalized on destruction.
class Statement final {
 public:
  Statement(sqlite3* db, std::string_view sql) : db_(db) {
    const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) fail(db, rc, "preparing " + std::string(sql.substr(0, 60)));
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void bind(std::span<const Param> params) {
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

  /// Steps to the end, calling on_row for each row.
  void run(const RowCallback* on_row) {
    struct SqliteRow final : Row {
      sqlite3_stmt* stmt;
      bool is_null(int c) const override { return sqlite3_column_type(stmt, c) == SQLITE_NULL; }
      std::int64_t int64(int c) const override { return sqlite3_column_int64(stmt, c); }
      std::string_view text(int c) const override {
        const void* data = sqlite3_column_blob(stmt, c);
        const int size = sqlite3_column_bytes(stmt, c);
        return data ? std::string_view(static_cast<const char*>(data),
                                       static_cast<std::size_t>(size))
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

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteSession final : public Session {
 public:
  SqliteSession(const std::string& path, std::chrono::milliseconds busy_timeout) {
    const int rc =
        sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      const std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      throw ConfigError("cannot open SQLite database '" + path + "': " + message +
                        " (does the directory exist and is it writable?)");
    }
    sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout.count()));
    // A double-quoted name that matches no column must be an error, not a string literal.
    sqlite3_db_config(db_, SQLITE_DBCONFIG_DQS_DML, 0, nullptr);
    sqlite3_db_config(db_, SQLITE_DBCONFIG_DQS_DDL, 0, nullptr);
    // WAL lets readers stream while a writer commits; NORMAL sync is durable in WAL mode except
    // for the last commits on power loss (reflex's own writes are cursors and error records).
    execute_script("PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL");
  }
  ~SqliteSession() override {
    statements_.clear();
    sqlite3_close(db_);
  }

  void query(std::string_view sql, std::span<const Param> params,
             const RowCallback& on_row) override {
    auto& stmt = statement(sql);
    stmt.bind(params);
    stmt.run(&on_row);
  }

  std::uint64_t execute(std::string_view sql, std::span<const Param> params) override {
    auto& stmt = statement(sql);
    stmt.bind(params);
    stmt.run(nullptr);
    return static_cast<std::uint64_t>(sqlite3_changes64(db_));
  }

  void execute_script(std::string_view statements) override {
    const std::string sql(statements);
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
      const std::string message = error ? error : sqlite3_errstr(rc);
      sqlite3_free(error);
      throw DatabaseError(kind_of(rc, message), "sqlite: " + message);
    }
  }

  void begin() override { execute_script("BEGIN IMMEDIATE"); }
  void commit() override { execute_script("COMMIT"); }
  void rollback() noexcept override {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  bool broken() const noexcept override { return false; }

 private:
  Statement& statement(std::string_view sql) {
    auto it = statements_.find(std::string(sql));
    if (it == statements_.end()) {
      it = statements_.emplace(std::string(sql), std::make_unique<Statement>(db_, sql)).first;
    }
    return *it->second;
  }

  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, std::unique_ptr<Statement>> statements_;
};

class SqlitePolicy final : public GapPolicy {
 public:
  HoleVerdict on_hole(Session&, const Hole& hole) override {
    return {HoleDecision::pass, hole.next()};  // see the top of this file
  }
};

class SqliteDriver final : public Driver {
 public:
  SqliteDriver(std::string path, std::string redacted, const DatabaseOptions& options)
      : path_(std::move(path)), redacted_(std::move(redacted)), options_(options) {}

  Dialect dialect() const noexcept override { return Dialect::sqlite; }
  const std::string& redacted_dsn() const noexcept override { return redacted_; }
  std::unique_ptr<Session> connect() override {
    return std::make_unique<SqliteSession>(path_, options_.busy_timeout);
  }
  std::string micros_expr(std::string_view column) const override { return std::string(column); }
  std::string now_expr() const override { return "(" + std::string(kSqliteNowMicros) + ")"; }
  std::string micros_param_expr() const override { return "?"; }
  std::unique_ptr<GapPolicy> make_gap_policy(const TableContext&) override {
    return std::make_unique<SqlitePolicy>();
  }

 private:
  std::string path_;
  std::string redacted_;
  DatabaseOptions options_;
};

}  // namespace

std::shared_ptr<Driver> make_sqlite_driver(const Uri& uri, const DatabaseOptions& options) {
  uri.check_params({"table"});
  if (!uri.host.empty() || uri.path.empty() || uri.path.front() != '/') {
    throw ConfigError("SQLite DSN " + uri.redacted() +
                      " must name an absolute file path: sqlite:///ABSOLUTE/PATH (three slashes)");
  }
  if (uri.path == "/:memory:") {
    throw ConfigError(
        "in-memory SQLite cannot be shared by reflex's connections: use a file "
        "(sqlite:///tmp/app.db)");
  }
  return std::make_shared<SqliteDriver>(uri.path, uri.redacted(), options);
}

}  // namespace detail

// --- inserts on the caller's sqlite3* transaction -----------------------------------------------

namespace {

Notifier insert_sqlite(EventsTable::Impl& t, sqlite3* db, std::span<const NewEvent> events) {
  if (t.dialect != Dialect::sqlite) {
    throw ConfigError("insert(sqlite3*) on a " + std::string(to_string(t.dialect)) +
                      " events table: pass that database's transaction");
  }
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

}  // namespace

Notifier EventsTable::insert(sqlite3* transaction, const NewEvent& event) const {
  return insert_sqlite(*impl_, transaction, std::span<const NewEvent>(&event, 1));
}

Notifier EventsTable::insert_batch(sqlite3* transaction, std::span<const NewEvent> events) const {
  return insert_sqlite(*impl_, transaction, events);
}

}  // namespace reflex::rsql
