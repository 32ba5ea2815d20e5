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
  void commit() override { exec("COMMIT"); }
  void rollback() override { exec("ROLLBACK"); }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteBackend final : public Backend {
 public:
  reflex::rsql::Dialect dialect() const override { return reflex::rsql::Dialect::sqlite; }
  std::string dsn() const override { return "sqlite://" + path(); }
  std::unique_ptr<Producer> producer() override { return std::make_unique<SqliteProducer>(path()); }

 private:
  std::string path() const { return (dir_.path() / "test.db").string(); }
  TempDir dir_;
};

}  // namespace

std::unique_ptr<Backend> make_backend() {
  return std::make_unique<SqliteBackend>();
}

}  // namespace reflex_test::rsql
