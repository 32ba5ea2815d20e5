#pragma once

/// The PostgreSQL producer API of reflex::rsql: inserting events in the caller's libpqxx
/// transaction. Installed only when reflex is built with PostgreSQL (REFLEX_WITH_POSTGRES); the
/// caller links libpqxx itself (pkg-config `libpqxx`), since reflex keeps it private.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/rsql/config.hpp"
#include "reflex/rsql/events_table.hpp"
#include "reflex/rsql/export.hpp"
#include "reflex/rsql/inbox.hpp"
#include "reflex/rsql/sql.hpp"
#include "reflex/rsql/transactional_cursors.hpp"

#if !REFLEX_RSQL_HAS_POSTGRES
#error "this reflex was built without PostgreSQL: rebuild it with -DREFLEX_WITH_POSTGRES=ON"
#endif

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace reflex::rsql {

/// Inserts `events` in the caller's open transaction, in order, and returns the notifier to call
/// after commit: one prepared INSERT for one event, one multi-row INSERT for a few, COPY from 32
/// on. What EventsTable::insert and insert_batch call for a pqxx transaction. Throws ConfigError
/// for bad input (nothing is sent), SchemaError when the table is missing, DatabaseError else.
REFLEX_RSQL_EXPORT Notifier insert_events(const EventsTable& table,
                                          pqxx::transaction_base& transaction,
                                          std::span<const NewEvent> events);

/// Runs the caller's INSERT, UPDATE, DELETE or WITH statement and inserts `event` in the same
/// SQL statement: see EventsTable::insert_with.
REFLEX_RSQL_EXPORT Notifier insert_events_with(
    const EventsTable& table, pqxx::transaction_base& transaction, std::string_view statement,
    const std::vector<std::optional<std::string>>& params, const NewEvent& event);

/// Transactional cursors whose consumers apply their effects on a libpqxx transaction of reflex's
/// own (see transactional_cursors.hpp): the effects and the cursor commit together.
template <>
[[nodiscard]] REFLEX_RSQL_EXPORT
    std::shared_ptr<rpatterns::TransactionalCursors<pqxx::transaction_base&>>
    transactional_cursors<pqxx::transaction_base&>(std::shared_ptr<Database> database,
                                                   TransactionalCursorsOptions options);

/// Records (source, event_id) in `inbox` inside the caller's open transaction, so that the record
/// commits or rolls back with the caller's effects; true when it is new (false: handled before,
/// skip the effects). One insert-if-absent statement (ON CONFLICT DO NOTHING; a concurrent record
/// of the same key waits for the other transaction). Throws ConfigError for another dialect's inbox
/// or an open transaction missing, SchemaError when the table is missing (inbox_ddl,
/// Database::create_inbox_table).
[[nodiscard]] REFLEX_RSQL_EXPORT bool record(const Inbox& inbox,
                                             pqxx::transaction_base& transaction,
                                             std::string_view source, std::string_view event_id);

/// Statements (sql.hpp) on the caller's open libpqxx transaction, for modules that write their
/// own tables next to the events (reflex::rstate): each text is prepared once per connection
/// (unnamed behind a transaction pooler, see PoolMode). The returned object borrows `transaction`
/// and must not outlive it. ConfigError when `database` is not PostgreSQL.
[[nodiscard]] REFLEX_RSQL_EXPORT std::unique_ptr<Sql> sql_on(const Database& database,
                                                             pqxx::transaction_base& transaction);

}  // namespace reflex::rsql
