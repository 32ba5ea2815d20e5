#include <sqlite3.h>

#include <stdexcept>

#include "backend.hpp"
#include "reflex/rsql/sqlite.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test::rsql {
namespace {

using reflex::rsql::EventsTable;
using reflex::rsql::NewEvent;
using reflex::rsql::Notifier;

void check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    throw std::runtime_error(std::string(what) + ": " + sqlite3_errmsg(db));
  }
}

class SqliteProducer final : public Producer {
 public:
  explicit SqliteProducer(const std::string& path) {
    check(db_, sqlite3_open(path.c_str(), &db_), "open");
    sqlite3_busy_timeout(db_, 10000);
  }
  ~SqliteProducer() override { sqlite3_close(db_); }
  void begin() override { exec("BEGIN"); }
  Notifier insert(const EventsTable& table, const NewEvent& event) override {
    return table.insert(db_, event);
  }
  Notifier insert_batch(const EventsTable& table, std::span<const NewEvent> events) override {
    return table.insert_batch(db_, events);
  }
  void exec(const std::string& sql) override {
    check(db_, sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr), sql.c_str());
  }
  bool record(const reflex::rsql::Inbox& inbox, std::string_view source,
              std::string_view event_id) override {
    return reflex::rsql::record(inbox, db_, source, event_id);
  }
  void commit() override { exec("COMMIT"); }
  void rollback() override { exec("ROLLBACK"); }
  [[nodiscard]] sqlite3* db() const noexcept { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteHandle final : public Handle {
 public:
  explicit SqliteHandle(sqlite3* db) : db_(db) {}
  void exec(const std::string& sql) override {
    check(db_, sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr), sql.c_str());
  }

 private:
  sqlite3* db_;
};

class SqliteBackend final : public Backend {
 public:
  reflex::rsql::Dialect dialect() const override { return reflex::rsql::Dialect::sqlite; }
  std::string dsn() const override { return "sqlite://" + path(); }
  std::unique_ptr<Producer> producer() override { return std::make_unique<SqliteProducer>(path()); }
  std::unique_ptr<TxCursors> transactional_cursors(
      reflex::rsql::TransactionalCursorsOptions options) override {
    return std::make_unique<TxCursorsOf<sqlite3*, SqliteHandle>>(
        reflex::rsql::transactional_cursors<sqlite3*>(database(), std::move(options)));
  }
  std::vector<std::string> query(const std::string& sql) override {
    SqliteProducer conn(path());
    sqlite3_stmt* stmt = nullptr;
    check(conn.db(), sqlite3_prepare_v2(conn.db(), sql.c_str(), -1, &stmt, nullptr), sql.c_str());
    std::vector<std::string> out;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* text = sqlite3_column_text(stmt, 0);
      out.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
    }
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  std::string path() const { return (dir_.path() / "test.db").string(); }
  TempDir dir_;
};

}  // namespace

std::unique_ptr<Backend> make_backend() {
  return std::make_unique<SqliteBackend>();
}

}  // namespace reflex_test::rsql
