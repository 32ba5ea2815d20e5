#include <sqlite3.h>

#include <stdexcept>

#include "backend.hpp"
#include "reflex/rsql/sqlite.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test::rstate {
namespace {

void check(sqlite3* db, int rc, const std::string& what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    throw std::runtime_error(what + ": " + sqlite3_errmsg(db));
  }
}

class SqliteTransaction final : public CallerTransaction {
 public:
  explicit SqliteTransaction(const std::string& path) {
    check(db_, sqlite3_open(path.c_str(), &db_), "open");
    sqlite3_busy_timeout(db_, 10000);
    // IMMEDIATE: the write lock from the start, so a read-then-write never meets SQLITE_BUSY.
    exec("BEGIN IMMEDIATE");
  }
  ~SqliteTransaction() override { sqlite3_close(db_); }
  reflex::rstate::Written apply(const reflex::rstate::Entities& entities,
                                reflex::rstate::Method method, const reflex::rstate::EntityRef& ref,
                                std::string_view argument,
                                const reflex::rstate::Change& change) override {
    return apply_on(entities, db_, method, ref, argument, change);
  }
  void exec(const std::string& sql) override {
    check(db_, sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr), sql);
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
  std::unique_ptr<CallerTransaction> begin() override {
    return std::make_unique<SqliteTransaction>(path());
  }
  std::string failing_trigger(const std::string& events_table,
                              const std::string& key) const override {
    return "CREATE TRIGGER `" + events_table + "_fail` BEFORE INSERT ON `" + events_table +
           "` WHEN NEW.entity_key = '" + key + "' BEGIN SELECT RAISE(ABORT, 'forced failure'); END";
  }

 private:
  std::string path() const { return (dir_.path() / "entities.db").string(); }
  TempDir dir_;
};

}  // namespace

std::unique_ptr<Backend> make_backend() {
  return std::make_unique<SqliteBackend>();
}

}  // namespace reflex_test::rstate
