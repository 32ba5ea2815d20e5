#pragma once
// One test source, three databases: each rstate test executable links exactly one backend_*.cpp,
// which opens the dialect's test database (a temp-file SQLite, or the throwaway PostgreSQL and
// MariaDB of scripts/services) and the caller's own transactions the way a service holds them.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/rsql/database.hpp"
#include "reflex/rstate/entities.hpp"

namespace reflex_test::rstate {

/// A caller's own connection with an open transaction, on the dialect's driver handle.
class CallerTransaction {
 public:
  virtual ~CallerTransaction() = default;
  /// The change through the Entities overload that takes this dialect's handle.
  virtual reflex::rstate::Written apply(const reflex::rstate::Entities& entities,
                                        reflex::rstate::Method method,
                                        const reflex::rstate::EntityRef& ref,
                                        std::string_view argument,
                                        const reflex::rstate::Change& change) = 0;
  /// Plain SQL of the caller's own, inside the transaction.
  virtual void exec(const std::string& sql) = 0;
  virtual void commit() = 0;
  virtual void rollback() = 0;
};

/// A database of one dialect.
class Backend {
 public:
  virtual ~Backend() = default;
  [[nodiscard]] virtual reflex::rsql::Dialect dialect() const = 0;
  [[nodiscard]] virtual std::string dsn() const = 0;
  /// Opens a connection of the caller's own and begins a transaction on it.
  [[nodiscard]] virtual std::unique_ptr<CallerTransaction> begin() = 0;
  /// DDL of a trigger making every insert of an event of entity key `key` into `events_table`
  /// fail, and of dropping it.
  [[nodiscard]] virtual std::string failing_trigger(const std::string& events_table,
                                                    const std::string& key) const = 0;

  [[nodiscard]] std::shared_ptr<reflex::rsql::Database> database() {
    if (!database_) database_ = reflex::rsql::Database::open(dsn());
    return database_;
  }

 private:
  std::shared_ptr<reflex::rsql::Database> database_;
};

/// The backend this executable tests.
std::unique_ptr<Backend> make_backend();

/// Dispatches a change to the Entities overload on `transaction` (a dialect's handle).
template <class Transaction>
reflex::rstate::Written apply_on(const reflex::rstate::Entities& entities,
                                 Transaction&& transaction, reflex::rstate::Method method,
                                 const reflex::rstate::EntityRef& ref, std::string_view argument,
                                 const reflex::rstate::Change& change) {
  using reflex::rstate::Method;
  switch (method) {
    case Method::set:
      return entities.set(transaction, ref, argument, change);
    case Method::edit:
      return entities.edit(transaction, ref, argument, change);
    case Method::revert:
      return entities.revert(transaction, ref, argument, change);
    case Method::del:
      return entities.del(transaction, ref, change);
  }
  throw std::logic_error("unknown method");
}

}  // namespace reflex_test::rstate
