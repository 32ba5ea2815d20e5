#pragma once

#include <memory>

#include "reflex/metrics.hpp"
#include "reflex/rpatterns/transactional.hpp"
#include "reflex/rsql/database.hpp"
#include "reflex/rsql/schema.hpp"

namespace reflex::rsql {

/// Where the transactional cursors of a database live (transactional_cursors below).
struct TransactionalCursorsOptions {
  /// The cursors of consumers without a shard (the same table CursorsTable uses).
  CursorsSchema cursors{};
  /// The cursors of shards of shared consumers (rpatterns/shared.hpp).
  ShardsSchema shards{};
  std::shared_ptr<MetricsObserver> metrics{};
};

namespace detail {
template <class>
inline constexpr bool kNoTransactionalCursors = false;
}  // namespace detail

/// Transactional cursors (rpatterns::TransactionalCursors) in `database`, for consumers whose
/// effects are in that database too. Each commit runs in a transaction on a connection of
/// reflex's own: it locks the consumer's cursor row (its row of the cursors table, or for a
/// CursorRef with a shard the shard's row of the shards table, and only while the ref's lease
/// token holds it), drops the events at or before the committed cursor, hands the rest and the
/// driver's handle `Transaction` to the consumer, moves the cursor to the last event and commits.
/// Cursor writes are counted in the table's metrics (`reflex_table_cursor_writes_total`), as
/// CursorsTable's are.
///
/// Each dialect's header declares its own, and without it the call does not compile:
/// - `transactional_cursors<pqxx::transaction_base&>` — `<reflex/rsql/postgres.hpp>`,
/// - `transactional_cursors<sql::Connection&>` — `<reflex/rsql/mysql.hpp>`,
/// - `transactional_cursors<sqlite3*>` — `<reflex/rsql/sqlite.hpp>`.
/// Validates the schemas but does not connect. Throws ConfigError for a null database or one of
/// another dialect.
template <class Transaction>
[[nodiscard]] std::shared_ptr<rpatterns::TransactionalCursors<Transaction>> transactional_cursors(
    std::shared_ptr<Database> database, TransactionalCursorsOptions options = {}) {
  static_assert(detail::kNoTransactionalCursors<Transaction>,
                "no transactional cursors for this transaction type: use pqxx::transaction_base&, "
                "sql::Connection& or sqlite3*, and include its dialect's header "
                "(<reflex/rsql/postgres.hpp>, mysql.hpp or sqlite.hpp)");
  (void)database;
  (void)options;
  return nullptr;
}

}  // namespace reflex::rsql
