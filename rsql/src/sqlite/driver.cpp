// The SQLite dialect's driver, the embedded default: its SQL fragments, sessions (session.cpp)
// and gap policy.
//
// Gap safety needs no extra machinery here: SQLite has one writer at a time, and an id
// (INTEGER PRIMARY KEY AUTOINCREMENT) is drawn inside the writing transaction, which holds the
// database's write lock until it commits. So ids become visible in the order they were drawn, and
// a reader never sees id n+1 while id n may still commit. A hole (a rolled-back insert) is final
// the moment a reader sees anything after it.

#include "driver.hpp"

#include <string>

#include "reflex/errors.hpp"
#include "reflex/rsql/sqlite.hpp"
#include "sql_text.hpp"
#include "sqlite/session.hpp"

namespace reflex::rsql::detail {

namespace {

/// Passes every hole: see the top of this file.
class SqlitePolicy final : public GapPolicy {
 public:
  HoleVerdict on_hole(Session&, const Hole& hole) override {
    return {.decision = HoleDecision::pass, .through = hole.next()};  // see the top of this file
  }
};

class SqliteDriver final : public Driver {
 public:
  SqliteDriver(std::string path, std::string redacted, const DatabaseOptions& options)
      : path_(std::move(path)), redacted_(std::move(redacted)), options_(options) {}

  Dialect dialect() const noexcept override { return Dialect::sqlite; }
  const std::string& redacted_dsn() const noexcept override { return redacted_; }
  std::unique_ptr<Session> connect() override {
    return std::make_unique<SqliteSession>(path_, options_);
  }
  std::string micros_expr(std::string_view column) const override { return std::string(column); }
  std::string now_expr() const override { return "(" + std::string(kSqliteNowMicros) + ")"; }
  std::string micros_param_expr() const override { return "?"; }
  void insert_events(Session& session, const EventsTable& table,
                     std::span<const NewEvent> events) override {
    (void)rsql::insert_events(table, static_cast<SqliteSession&>(session).handle(), events);
  }
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
  uri.check_params({});
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

}  // namespace reflex::rsql::detail
