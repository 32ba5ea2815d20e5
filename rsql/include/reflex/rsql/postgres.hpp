#pragma once

/// The PostgreSQL producer API of reflex::rsql: inserting events in the caller's libpqxx
/// transaction. Installed only when reflex is built with PostgreSQL (REFLEX_WITH_POSTGRES); the
/// caller links libpqxx itself (pkg-config `libpqxx`), since reflex keeps it private.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/rsql/config.hpp"
#include "reflex/rsql/events_table.hpp"
#include "reflex/rsql/export.hpp"

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

}  // namespace reflex::rsql
