#pragma once

/// The SQLite producer API of reflex::rsql: inserting events in the caller's transaction on its
/// own `sqlite3*` connection. Installed only when reflex is built with SQLite (REFLEX_WITH_SQLITE,
/// the default); the caller links SQLite itself (`find_package(SQLite3)`, `SQLite::SQLite3`),
/// since reflex keeps it private.

#include <memory>
#include <span>
#include <string_view>

#include "reflex/rsql/config.hpp"
#include "reflex/rsql/events_table.hpp"
#include "reflex/rsql/export.hpp"
#include "reflex/rsql/inbox.hpp"
#include "reflex/rsql/sql.hpp"
#include "reflex/rsql/transactional_cursors.hpp"

#if !REFLEX_RSQL_HAS_SQLITE
#error "this reflex was built without SQLite: rebuild it with -DREFLEX_WITH_SQLITE=ON"
#endif

struct sqlite3;

namespace reflex::rsql {

/// Inserts `events` on the caller's connection inside its open transaction (`BEGIN … COMMIT`),
/// in order, and returns the notifier to call after commit. What EventsTable::insert and
/// insert_batch call for a `sqlite3*`. Throws ConfigError when the connection is not in a
/// transaction (the event must commit with the change), SchemaError when the table is missing.
REFLEX_RSQL_EXPORT Notifier insert_events(const EventsTable& table, sqlite3* transaction,
                                          std::span<const NewEvent> events);

/// Transactional cursors whose consumers apply their effects on a connection inside BEGIN IMMEDIATE
/// of reflex's own (see transactional_cursors.hpp): the effects and the cursor commit together.
/// Commits of one database run one at a time (SQLite has one writer).
template <>
[[nodiscard]] REFLEX_RSQL_EXPORT std::shared_ptr<rpatterns::TransactionalCursors<sqlite3*>>
transactional_cursors<sqlite3*>(std::shared_ptr<Database> database,
                                TransactionalCursorsOptions options);

/// Records (source, event_id) in `inbox` inside the caller's open transaction, so that the record
/// commits or rolls back with the caller's effects; true when it is new (false: handled before,
/// skip the effects). One insert-if-absent statement (INSERT OR IGNORE) inside the caller's BEGIN …
/// COMMIT. Throws ConfigError for another dialect's inbox or an open transaction missing,
/// SchemaError when the table is missing (inbox_ddl, Database::create_inbox_table).
[[nodiscard]] REFLEX_RSQL_EXPORT bool record(const Inbox& inbox, sqlite3* transaction,
                                             std::string_view source, std::string_view event_id);

/// Statements (sql.hpp) on the caller's connection inside its BEGIN … COMMIT, for modules that
/// write their own tables next to the events (reflex::rstate); each text is prepared once for the
/// life of the returned object, which borrows `transaction` and must not outlive it. ConfigError
/// when `database` is not SQLite, the connection is null or no transaction is open.
[[nodiscard]] REFLEX_RSQL_EXPORT std::unique_ptr<Sql> sql_on(const Database& database,
                                                             sqlite3* transaction);

}  // namespace reflex::rsql
