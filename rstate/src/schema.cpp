#include "reflex/rstate/schema.hpp"

#include <vector>

#include "sql_names.hpp"

namespace reflex::rstate {

namespace {

/// The history's columns beside reflex's in the events table, and (MariaDB, where indexes are
/// declared in the table) its indexes.
std::vector<std::string> history_columns(rsql::Dialect dialect, const std::string& table) {
  const auto q = [&](std::string_view name) { return detail::quote(dialect, name); };
  switch (dialect) {
    case rsql::Dialect::postgres:
      return {q("event_uuid") + " text NOT NULL",     q("entity_domain") + " text NOT NULL",
              q("entity_type") + " text NOT NULL",    q("entity_key") + " text NOT NULL",
              q("entity_values") + " jsonb NOT NULL", q("method") + " text NOT NULL",
              q("claims") + " jsonb NOT NULL",        q("time_ns") + " bigint NOT NULL"};
    case rsql::Dialect::mysql:
      return {q("event_uuid") + " CHAR(36) NOT NULL",
              q("entity_domain") + " VARCHAR(255) NOT NULL",
              q("entity_type") + " VARCHAR(255) NOT NULL",
              q("entity_key") + " VARCHAR(255) NOT NULL",
              q("entity_values") + " JSON NOT NULL",
              q("method") + " VARCHAR(255) NOT NULL",
              q("claims") + " JSON NOT NULL",
              q("time_ns") + " BIGINT NOT NULL",
              "UNIQUE KEY " + q(table + "_uuid_idx") + " (" + q("event_uuid") + ")",
              "INDEX " + q(table + "_key_idx") + " (" + q("entity_domain") + ", " +
                  q("entity_type") + ", " + q("entity_key") + ", " + q("time_ns") + ")",
              "INDEX " + q(table + "_time_idx") + " (" + q("entity_domain") + ", " +
                  q("entity_type") + ", " + q("time_ns") + ")"};
    case rsql::Dialect::sqlite:
      return {q("event_uuid") + " TEXT NOT NULL",
              q("entity_domain") + " TEXT NOT NULL",
              q("entity_type") + " TEXT NOT NULL",
              q("entity_key") + " TEXT NOT NULL",
              q("entity_values") + " TEXT NOT NULL CHECK (json_valid(" + q("entity_values") + "))",
              q("method") + " TEXT NOT NULL",
              q("claims") + " TEXT NOT NULL CHECK (json_valid(" + q("claims") + "))",
              q("time_ns") + " INTEGER NOT NULL"};
  }
  return {};
}

}  // namespace

std::string entities_ddl(rsql::Dialect dialect, const EntitiesSchema& schema) {
  rsql::validate_identifier("entities table", schema.entities_table);
  rsql::validate_identifier("entity events table", schema.events_table);
  const auto q = [&](std::string_view name) { return detail::quote(dialect, name); };
  const std::string entities = q(schema.entities_table);
  const std::string events = q(schema.events_table);
  const std::string key = "(" + q("domain") + ", " + q("type") + ", " + q("key") + ")";
  std::string ddl;
  switch (dialect) {
    case rsql::Dialect::postgres:
      ddl += "CREATE TABLE IF NOT EXISTS " + entities + " (\n  " + q("domain") +
             " text NOT NULL,\n  " + q("type") + " text NOT NULL,\n  " + q("key") +
             " text NOT NULL,\n  " + q("values") + " jsonb NOT NULL,\n  " + q("version") +
             " bigint NOT NULL,\n  " + q("updated") + " bigint NOT NULL,\n  PRIMARY KEY " + key +
             "\n);\n";
      // Containment (`values @> filter`), the search's filter, is answered from this index.
      ddl += "CREATE INDEX IF NOT EXISTS " + q(schema.entities_table + "_values_idx") + " ON " +
             entities + " USING gin (" + q("values") + " jsonb_path_ops);\n";
      break;
    case rsql::Dialect::mysql:
      ddl += "CREATE TABLE IF NOT EXISTS " + entities + " (\n  " + q("domain") +
             " VARCHAR(255) NOT NULL,\n  " + q("type") + " VARCHAR(255) NOT NULL,\n  " + q("key") +
             " VARCHAR(255) NOT NULL,\n  " + q("values") + " JSON NOT NULL,\n  " + q("version") +
             " BIGINT NOT NULL,\n  " + q("updated") + " BIGINT NOT NULL,\n  PRIMARY KEY " + key +
             "\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;\n";
      break;
    case rsql::Dialect::sqlite:
      ddl += "CREATE TABLE IF NOT EXISTS " + entities + " (\n  " + q("domain") +
             " TEXT NOT NULL,\n  " + q("type") + " TEXT NOT NULL,\n  " + q("key") +
             " TEXT NOT NULL,\n  " + q("values") + " TEXT NOT NULL CHECK (json_valid(" +
             q("values") + ")),\n  " + q("version") + " INTEGER NOT NULL,\n  " + q("updated") +
             " INTEGER NOT NULL,\n  PRIMARY KEY " + key + "\n) WITHOUT ROWID;\n";
      break;
  }
  const auto columns = history_columns(dialect, schema.events_table);
  ddl += rsql::events_ddl(dialect, schema.events_schema(), columns);
  if (dialect != rsql::Dialect::mysql) {
    ddl += ";\nCREATE UNIQUE INDEX IF NOT EXISTS " + q(schema.events_table + "_uuid_idx") + " ON " +
           events + " (" + q("event_uuid") + ");\n";
    ddl += "CREATE INDEX IF NOT EXISTS " + q(schema.events_table + "_key_idx") + " ON " + events +
           " (" + q("entity_domain") + ", " + q("entity_type") + ", " + q("entity_key") + ", " +
           q("time_ns") + ");\n";
    ddl += "CREATE INDEX IF NOT EXISTS " + q(schema.events_table + "_time_idx") + " ON " + events +
           " (" + q("entity_domain") + ", " + q("entity_type") + ", " + q("time_ns") + ")";
  }
  return ddl;
}

namespace {

/// A table keyed by (domain, key) with an expiry, and `value` bytes when `with_value`.
std::string keyed_ddl(rsql::Dialect dialect, const std::string& table, bool with_value) {
  const auto q = [&](std::string_view name) { return detail::quote(dialect, name); };
  const bool pg = dialect == rsql::Dialect::postgres;
  const bool my = dialect == rsql::Dialect::mysql;
  const std::string name_type = pg ? "text" : my ? "VARCHAR(255)" : "TEXT";
  const std::string bytes_type = pg ? "bytea" : my ? "MEDIUMBLOB" : "BLOB";
  const std::string int_type = pg ? "bigint" : my ? "BIGINT" : "INTEGER";
  std::string ddl = "CREATE TABLE IF NOT EXISTS " + q(table) + " (\n  " + q("domain") + " " +
                    name_type + " NOT NULL,\n  " + q("key") + " " + name_type + " NOT NULL,\n  ";
  if (with_value) ddl += q("value") + " " + bytes_type + " NOT NULL,\n  ";
  ddl += q("expires_ns") + " " + int_type + " NOT NULL,\n  PRIMARY KEY (" + q("domain") + ", " +
         q("key") + ")";
  const std::string index = q(table + "_expires_idx");
  if (my) {
    // Declared in the table: no IF NOT EXISTS for a separate index before MariaDB 10.1.4.
    return ddl + ",\n  INDEX " + index + " (" + q("expires_ns") +
           ")\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
  }
  return ddl + "\n);\nCREATE INDEX IF NOT EXISTS " + index + " ON " + q(table) + " (" +
         q("expires_ns") + ")";
}

}  // namespace

std::string cache_ddl(rsql::Dialect dialect, const CacheSchema& schema) {
  rsql::validate_identifier("cache table", schema.table);
  return keyed_ddl(dialect, schema.table, true);
}

std::string mutexes_ddl(rsql::Dialect dialect, const MutexesSchema& schema) {
  rsql::validate_identifier("mutexes table", schema.table);
  return keyed_ddl(dialect, schema.table, false);
}

}  // namespace reflex::rstate
