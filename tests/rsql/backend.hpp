#pragma once
// One test source, several databases: each rsql test executable links exactly one backend_*.cpp
// that connects to its dialect (a temp-file SQLite, or the throwaway PostgreSQL/MariaDB servers
// started by scripts/services) and opens producer transactions the way a service would.

#include <memory>
#include <span>
#include <string>

#include "reflex/rsql/rsql.hpp"

namespace reflex_test::rsql {

/// A producer's own connection and transaction (what a service holds when it inserts events).
class Producer {
 public:
  virtual ~Producer() = default;
  virtual void begin() = 0;
  virtual reflex::rsql::Notifier insert(const reflex::rsql::EventsTable& table,
                                        const reflex::rsql::NewEvent& event) = 0;
  virtual reflex::rsql::Notifier insert_batch(const reflex::rsql::EventsTable& table,
                                              std::span<const reflex::rsql::NewEvent> events) = 0;
  /// Runs plain SQL inside the open transaction (a producer that does not use reflex).
  virtual void exec(const std::string& sql) = 0;
  virtual void commit() = 0;
  virtual void rollback() = 0;
};

/// A database of one dialect for one test.
class Backend {
 public:
  virtual ~Backend() = default;
  [[nodiscard]] virtual reflex::rsql::Dialect dialect() const = 0;
  /// DSN of the test database.
  [[nodiscard]] virtual std::string dsn() const = 0;
  [[nodiscard]] virtual std::unique_ptr<Producer> producer() = 0;

  [[nodiscard]] std::shared_ptr<reflex::rsql::Database> database() {
    if (!database_) database_ = reflex::rsql::Database::open(dsn());
    return database_;
  }

 private:
  std::shared_ptr<reflex::rsql::Database> database_;
};

/// The backend this executable tests.
std::unique_ptr<Backend> make_backend();

/// Inserts events in one committed transaction and notifies.
void insert_committed(Backend& backend, const reflex::rsql::EventsTable& table,
                      std::span<const reflex::rsql::NewEvent> events);

}  // namespace reflex_test::rsql
