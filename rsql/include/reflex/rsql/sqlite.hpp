#pragma once

/// The SQLite producer API of reflex::rsql: inserting events in the caller's transaction on its
/// own `sqlite3*` connection. Installed only when reflex is built with SQLite (REFLEX_WITH_SQLITE,
/// the default); the caller links SQLite itself (`find_package(SQLite3)`, `SQLite::SQLite3`),
/// since reflex keeps it private.

#include <span>

#include "reflex/rsql/config.hpp"
#include "reflex/rsql/events_table.hpp"
#include "reflex/rsql/export.hpp"

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

}  // namespace reflex::rsql
