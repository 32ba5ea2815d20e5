#pragma once

#include <span>
#include <string>
#include <string_view>

#include "reflex/rsql/export.hpp"

namespace reflex::rsql {

/// The SQL dialects reflex speaks.
enum class Dialect { postgres, mysql, sqlite };

/// "postgres", "mysql" or "sqlite".
[[nodiscard]] REFLEX_RSQL_EXPORT std::string_view to_string(Dialect dialect) noexcept;

/// Names of an events table and its columns. Every name must be a plain identifier
/// ([A-Za-z_][A-Za-z0-9_]*, at most 63 characters); anything else is a ConfigError naming it, so
/// names are never pasted into SQL unchecked.
struct EventsSchema {
  std::string table{"events"};
  std::string id_column{"id"};
  std::string foreign_id_column{"foreign_id"};
  std::string type_column{"type"};
  std::string timestamp_column{"timestamp"};
  /// Column of opaque metadata bytes; "" when the table has none.
  std::string metadata_column{"metadata"};
  /// Column of W3C trace context bytes; "" when the table has none.
  std::string trace_column{"trace"};
};

/// Names of a cursors table (one row per consumer).
struct CursorsSchema {
  std::string table{"cursors"};
  std::string name_column{"id"};
  std::string cursor_column{"cursor"};
  std::string updated_at_column{"updated_at"};
};

/// Names of an errors (dead-letter) table and of the events table its records append to.
struct ErrorsSchema {
  std::string table{"errors"};
  /// An events table (same columns as EventsSchema's defaults) receiving one event per recorded
  /// error, foreign id = the error row's id, so a repair job can stream them.
  std::string events_table{"error_events"};
};

/// Names of an inbox table: which events a consumer handled, one row per (source, event id), with
/// the time it was recorded (for retention). Its columns are fixed: `source`, `event_id`,
/// `created_at`.
struct InboxSchema {
  std::string table{"inbox"};
};

/// Names of the tables of shared consumers (rpatterns/shared.hpp): `table` holds one row per
/// shard (`consumer`, `shard`, `owner`, `token`, `expires_at`, `cursor`, `updated_at`; the lease,
/// its fencing token and the shard's cursor), `members_table` one row per live member
/// (`consumer`, `member`, `expires_at`). Expiry times are microseconds since the epoch by the
/// database's clock, so members on different machines agree on them.
struct ShardsSchema {
  std::string table{"shards"};
  std::string members_table{"shard_members"};
};

/// Throws ConfigError unless `name` is a plain identifier; `what` says what it names.
REFLEX_RSQL_EXPORT void validate_identifier(std::string_view what, std::string_view name);

/// Checks every name of a schema (throws ConfigError naming the first bad one).
REFLEX_RSQL_EXPORT void validate(const EventsSchema& schema);
REFLEX_RSQL_EXPORT void validate(const CursorsSchema& schema);
REFLEX_RSQL_EXPORT void validate(const ErrorsSchema& schema);
REFLEX_RSQL_EXPORT void validate(const InboxSchema& schema);
REFLEX_RSQL_EXPORT void validate(const ShardsSchema& schema);

/// DDL creating the events table (IF NOT EXISTS) and, on PostgreSQL, the id sequence and the id
/// function that make streaming gap-safe (docs/rsql.md). Every column except foreign_id and type
/// has a default, so `INSERT INTO events (foreign_id, type) VALUES (...)` is a valid event.
/// Statements are separated by ";\n".
[[nodiscard]] REFLEX_RSQL_EXPORT std::string events_ddl(Dialect dialect,
                                                        const EventsSchema& schema = {});
/// events_ddl with more columns in the table, after reflex's: each of `extra_columns` is one
/// column definition in the dialect's SQL (`"entity_key" text NOT NULL`), for modules that keep
/// more beside each event (reflex::rstate's history). Streams read reflex's columns only; every
/// extra column needs a default or is written by the module's own inserts.
[[nodiscard]] REFLEX_RSQL_EXPORT std::string events_ddl(Dialect dialect, const EventsSchema& schema,
                                                        std::span<const std::string> extra_columns);
/// DDL creating the cursors table (IF NOT EXISTS).
[[nodiscard]] REFLEX_RSQL_EXPORT std::string cursors_ddl(Dialect dialect,
                                                         const CursorsSchema& schema = {});
/// DDL creating the errors table and its events table (IF NOT EXISTS).
[[nodiscard]] REFLEX_RSQL_EXPORT std::string errors_ddl(Dialect dialect,
                                                        const ErrorsSchema& schema = {});
/// DDL creating the inbox table and its retention index (IF NOT EXISTS).
[[nodiscard]] REFLEX_RSQL_EXPORT std::string inbox_ddl(Dialect dialect,
                                                       const InboxSchema& schema = {});
/// DDL creating the shards and shard members tables (IF NOT EXISTS).
[[nodiscard]] REFLEX_RSQL_EXPORT std::string shards_ddl(Dialect dialect,
                                                        const ShardsSchema& schema = {});

}  // namespace reflex::rsql
