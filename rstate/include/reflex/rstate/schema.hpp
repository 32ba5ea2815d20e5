#pragma once
/// The tables of reflex::rstate: the entities (their current state) and their events (a reflex
/// events table with the history's columns beside reflex's own).

#include <string>

#include "reflex/rsql/schema.hpp"
#include "reflex/rstate/export.hpp"

namespace reflex::rstate {

/// The names of the two tables (plain identifiers, see rsql::validate_identifier). Their columns
/// are fixed:
/// - entities: `domain`, `type`, `key` (the primary key), `values` (PostgreSQL jsonb, MariaDB
///   JSON, SQLite JSON text), `version`, `updated` (ns since the epoch);
/// - events: reflex's (`id`, `foreign_id`, `type`, `timestamp`, `metadata`, `trace`), then
///   `event_uuid` (unique), `entity_domain`, `entity_type`, `entity_key`, `entity_values`,
///   `method`, `claims`, `time_ns`, indexed for the history's searches.
struct EntitiesSchema {
  std::string entities_table{"entities"};
  std::string events_table{"entity_events"};

  /// The events table as reflex's streams see it.
  [[nodiscard]] rsql::EventsSchema events_schema() const { return {.table = events_table}; }
};

/// The table of CacheTable (cache.hpp): `domain`, `key` (the primary key), `value` (bytes),
/// `expires_ns` (ns since the epoch; 0: never).
struct CacheSchema {
  std::string table{"cache"};
};

/// The table of MutexTable (cache.hpp): `domain`, `key` (the primary key), `expires_ns`.
struct MutexesSchema {
  std::string table{"mutexes"};
};

/// The DDL of both tables and their indexes (CREATE … IF NOT EXISTS), statements separated by
/// ";\n" (rsql::Database::execute runs it; `reflexctl schema --entities` prints it).
[[nodiscard]] REFLEX_RSTATE_EXPORT std::string entities_ddl(rsql::Dialect dialect,
                                                            const EntitiesSchema& schema = {});

/// The DDL of the cache table and of the mutexes table (CREATE … IF NOT EXISTS).
[[nodiscard]] REFLEX_RSTATE_EXPORT std::string cache_ddl(rsql::Dialect dialect,
                                                         const CacheSchema& schema = {});
[[nodiscard]] REFLEX_RSTATE_EXPORT std::string mutexes_ddl(rsql::Dialect dialect,
                                                           const MutexesSchema& schema = {});

}  // namespace reflex::rstate
