#include "reflex/rsql/schema.hpp"

#include <string>

#include "reflex/encoding.hpp"
#include "reflex/errors.hpp"
#include "sql_text.hpp"

namespace reflex::rsql {

std::string_view to_string(Dialect dialect) noexcept {
  switch (dialect) {
    case Dialect::postgres:
      return "postgres";
    case Dialect::mysql:
      return "mysql";
    case Dialect::sqlite:
      return "sqlite";
  }
  return "unknown";
}

void validate_identifier(std::string_view what, std::string_view name) {
  const auto bad = [&](const std::string& why) {
    throw ConfigError(std::string(what) + " " + quoted(name) + " is not a valid SQL name: " + why +
                      "; use letters, digits and underscores, starting with a letter or "
                      "underscore, at most 63 characters");
  };
  if (name.empty()) bad("it is empty");
  if (name.size() > 63) bad("it is longer than 63 characters");
  const auto alpha = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!alpha(name.front())) bad("it must start with a letter or an underscore");
  for (const char c : name) {
    if (alpha(c) || digit(c)) continue;
    // One byte of a multi-byte UTF-8 character would show as a broken character: say what it is.
    if (static_cast<unsigned char>(c) >= 0x80) bad("it contains a character that is not ASCII");
    bad("it contains " + quoted(std::string_view(&c, 1)));
  }
}

void validate(const EventsSchema& schema) {
  validate_identifier("events table", schema.table);
  // PostgreSQL derives the sequence and id function names from the table's (63 characters max).
  if (schema.table.size() > 50) {
    throw ConfigError("events table '" + schema.table +
                      "' is not a valid name: at most 50 characters (reflex derives the names of "
                      "its id sequence and function from it)");
  }
  validate_identifier("id column", schema.id_column);
  validate_identifier("foreign id column", schema.foreign_id_column);
  validate_identifier("type column", schema.type_column);
  validate_identifier("timestamp column", schema.timestamp_column);
  if (!schema.metadata_column.empty())
    validate_identifier("metadata column", schema.metadata_column);
  if (!schema.trace_column.empty()) validate_identifier("trace column", schema.trace_column);
}

void validate(const CursorsSchema& schema) {
  validate_identifier("cursors table", schema.table);
  validate_identifier("cursor name column", schema.name_column);
  validate_identifier("cursor column", schema.cursor_column);
  validate_identifier("cursor updated_at column", schema.updated_at_column);
}

void validate(const InboxSchema& schema) {
  validate_identifier("inbox table", schema.table);
}

void validate(const ShardsSchema& schema) {
  validate_identifier("shards table", schema.table);
  validate_identifier("shard members table", schema.members_table);
}

void validate(const ErrorsSchema& schema) {
  validate_identifier("errors table", schema.table);
  validate(EventsSchema{.table = schema.events_table});
}

std::string events_ddl(Dialect dialect, const EventsSchema& s) {
  return events_ddl(dialect, s, {});
}

std::string events_ddl(Dialect dialect, const EventsSchema& s,
                       std::span<const std::string> extra_columns) {
  validate(s);
  std::string extra;
  for (const auto& column : extra_columns) extra += ",\n  " + column;
  const auto q = [&](std::string_view name) { return detail::quote(dialect, name); };
  std::string ddl;
  switch (dialect) {
    case Dialect::postgres: {
      // Gap safety (README, "Never skipping an event"): the id default first makes the inserting
      // transaction take an xid, then draws the id, so a transaction holding an unfinished id is
      // always in the snapshots taken after the draw. CACHE 1 keeps ids in draw order across
      // sessions. The order comes from CASE, which evaluates its condition before its result
      // (neither is folded at plan time: the planner folds only immutable calls, and
      // pg_current_xact_id() is stable, nextval() volatile). A one-expression SQL function is
      // inlined into the INSERT's plan, where a PL/pgSQL one ran its interpreter and an SPI query
      // per row; OR REPLACE gives tables made with the PL/pgSQL version (same name, same result)
      // this one the next time their DDL runs.
      const std::string seq = q(s.table + "_id_seq");
      const std::string fn = q(s.table + "_next_id");
      ddl += "CREATE SEQUENCE IF NOT EXISTS " + seq + " CACHE 1;\n";
      ddl += "CREATE OR REPLACE FUNCTION " + fn +
             "() RETURNS bigint LANGUAGE sql VOLATILE AS $fn$ SELECT CASE WHEN "
             "pg_current_xact_id() IS NOT NULL THEN nextval('" +
             seq + "') END $fn$;\n";
      ddl += "CREATE TABLE IF NOT EXISTS " + q(s.table) + " (\n  " + q(s.id_column) +
             " bigint PRIMARY KEY DEFAULT " + fn + "(),\n  " + q(s.foreign_id_column) +
             " text NOT NULL,\n  " + q(s.type_column) + " integer NOT NULL,\n  " +
             q(s.timestamp_column) + " timestamptz NOT NULL DEFAULT now()";
      if (!s.metadata_column.empty()) ddl += ",\n  " + q(s.metadata_column) + " bytea";
      if (!s.trace_column.empty()) ddl += ",\n  " + q(s.trace_column) + " bytea";
      ddl += extra + "\n);\n";
      ddl += "ALTER SEQUENCE " + seq + " OWNED BY " + q(s.table) + "." + q(s.id_column) + ";\n";
      // Retention's index (timestamp < cutoff). BRIN, not a B-tree: rows are appended in
      // timestamp order, so block ranges summarise them exactly enough, and an insert into the
      // newest, not yet summarised range touches no index page at all; autosummarize summarises
      // a range once it fills. Tables made with the B-tree keep it (IF NOT EXISTS, same name).
      ddl += "CREATE INDEX IF NOT EXISTS " + q(s.table + "_timestamp_idx") + " ON " + q(s.table) +
             " USING brin (" + q(s.timestamp_column) + ") WITH (autosummarize = on)";
      break;
    }
    case Dialect::mysql:
      ddl += "CREATE TABLE IF NOT EXISTS " + q(s.table) + " (\n  " + q(s.id_column) +
             " BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,\n  " + q(s.foreign_id_column) +
             " VARCHAR(255) NOT NULL,\n  " + q(s.type_column) + " INT NOT NULL,\n  " +
             q(s.timestamp_column) + " TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)";
      if (!s.metadata_column.empty()) ddl += ",\n  " + q(s.metadata_column) + " MEDIUMBLOB NULL";
      if (!s.trace_column.empty()) ddl += ",\n  " + q(s.trace_column) + " VARBINARY(512) NULL";
      ddl += extra;
      ddl += ",\n  INDEX " + q(s.table + "_timestamp_idx") + " (" + q(s.timestamp_column) + ")";
      ddl += "\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
      break;
    case Dialect::sqlite:
      // AUTOINCREMENT: ids are never reused, even after retention deleted the newest rows.
      ddl += "CREATE TABLE IF NOT EXISTS " + q(s.table) + " (\n  " + q(s.id_column) +
             " INTEGER PRIMARY KEY AUTOINCREMENT,\n  " + q(s.foreign_id_column) +
             " TEXT NOT NULL,\n  " + q(s.type_column) + " INTEGER NOT NULL,\n  " +
             q(s.timestamp_column) + " INTEGER NOT NULL DEFAULT (" +
             std::string(detail::kSqliteNowMicros) + ")";
      if (!s.metadata_column.empty()) ddl += ",\n  " + q(s.metadata_column) + " BLOB";
      if (!s.trace_column.empty()) ddl += ",\n  " + q(s.trace_column) + " BLOB";
      ddl += extra + "\n);\n";
      ddl += "CREATE INDEX IF NOT EXISTS " + q(s.table + "_timestamp_idx") + " ON " + q(s.table) +
             " (" + q(s.timestamp_column) + ")";
      break;
  }
  return ddl;
}

std::string cursors_ddl(Dialect dialect, const CursorsSchema& s) {
  validate(s);
  const auto q = [&](std::string_view name) { return detail::quote(dialect, name); };
  switch (dialect) {
    case Dialect::postgres:
      return "CREATE TABLE IF NOT EXISTS " + q(s.table) + " (\n  " + q(s.name_column) +
             " text PRIMARY KEY,\n  " + q(s.cursor_column) + " text NOT NULL,\n  " +
             q(s.updated_at_column) + " timestamptz NOT NULL DEFAULT now()\n)";
    case Dialect::mysql:
      return "CREATE TABLE IF NOT EXISTS " + q(s.table) + " (\n  " + q(s.name_column) +
             " VARCHAR(255) NOT NULL PRIMARY KEY,\n  " + q(s.cursor_column) +
             " VARCHAR(255) NOT NULL,\n  " + q(s.updated_at_column) +
             " TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)\n) ENGINE=InnoDB DEFAULT "
             "CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
    case Dialect::sqlite:
      return "CREATE TABLE IF NOT EXISTS " + q(s.table) + " (\n  " + q(s.name_column) +
             " TEXT NOT NULL PRIMARY KEY,\n  " + q(s.cursor_column) + " TEXT NOT NULL,\n  " +
             q(s.updated_at_column) + " INTEGER NOT NULL DEFAULT (" +
             std::string(detail::kSqliteNowMicros) + ")\n)";
  }
  return {};
}

std::string inbox_ddl(Dialect dialect, const InboxSchema& s) {
  validate(s);
  const std::string table = detail::quote(dialect, s.table);
  const std::string index = detail::quote(dialect, s.table + "_created_at");
  switch (dialect) {
    case Dialect::postgres:
      return "CREATE TABLE IF NOT EXISTS " + table +
             " (\n  \"source\" text NOT NULL,\n  \"event_id\" text NOT NULL,\n  \"created_at\" "
             "timestamptz NOT NULL DEFAULT now(),\n  PRIMARY KEY (\"source\", \"event_id\")\n);\n"
             "CREATE INDEX IF NOT EXISTS " +
             index + " ON " + table + " (\"created_at\")";
    case Dialect::mysql:
      // No IF NOT EXISTS for a separate index before MariaDB 10.1.4: it is declared inline.
      return "CREATE TABLE IF NOT EXISTS " + table +
             " (\n  `source` VARCHAR(255) NOT NULL,\n  `event_id` VARCHAR(255) NOT NULL,\n  "
             "`created_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),\n  PRIMARY KEY "
             "(`source`, `event_id`),\n  KEY " +
             index + " (`created_at`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
    case Dialect::sqlite:
      return "CREATE TABLE IF NOT EXISTS " + table +
             " (\n  \"source\" TEXT NOT NULL,\n  \"event_id\" TEXT NOT NULL,\n  \"created_at\" "
             "INTEGER NOT NULL DEFAULT (" +
             std::string(detail::kSqliteNowMicros) +
             "),\n  PRIMARY KEY (\"source\", \"event_id\")\n);\nCREATE INDEX IF NOT EXISTS " +
             index + " ON " + table + " (\"created_at\")";
  }
  return {};
}

std::string shards_ddl(Dialect dialect, const ShardsSchema& s) {
  validate(s);
  const std::string shards = detail::quote(dialect, s.table);
  const std::string members = detail::quote(dialect, s.members_table);
  switch (dialect) {
    case Dialect::postgres:
      return "CREATE TABLE IF NOT EXISTS " + shards +
             " (\n  \"consumer\" text NOT NULL,\n  \"shard\" integer NOT NULL,\n  \"owner\" text "
             "NOT NULL DEFAULT '',\n  \"token\" bigint NOT NULL DEFAULT 0,\n  \"expires_at\" "
             "bigint NOT NULL DEFAULT 0,\n  \"cursor\" text NOT NULL DEFAULT '',\n  "
             "\"updated_at\" timestamptz NOT NULL DEFAULT now(),\n  PRIMARY KEY (\"consumer\", "
             "\"shard\")\n);\nCREATE TABLE IF NOT EXISTS " +
             members +
             " (\n  \"consumer\" text NOT NULL,\n  \"member\" text NOT NULL,\n  \"expires_at\" "
             "bigint NOT NULL,\n  PRIMARY KEY (\"consumer\", \"member\")\n)";
    case Dialect::mysql:
      return "CREATE TABLE IF NOT EXISTS " + shards +
             " (\n  `consumer` VARCHAR(255) NOT NULL,\n  `shard` INT NOT NULL,\n  `owner` "
             "VARCHAR(255) NOT NULL DEFAULT '',\n  `token` BIGINT NOT NULL DEFAULT 0,\n  "
             "`expires_at` BIGINT NOT NULL DEFAULT 0,\n  `cursor` VARCHAR(255) NOT NULL DEFAULT "
             "'',\n  `updated_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),\n  PRIMARY "
             "KEY (`consumer`, `shard`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 "
             "COLLATE=utf8mb4_bin;\nCREATE TABLE IF NOT EXISTS " +
             members +
             " (\n  `consumer` VARCHAR(255) NOT NULL,\n  `member` VARCHAR(255) NOT NULL,\n  "
             "`expires_at` BIGINT NOT NULL,\n  PRIMARY KEY (`consumer`, `member`)\n) "
             "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
    case Dialect::sqlite:
      return "CREATE TABLE IF NOT EXISTS " + shards +
             " (\n  \"consumer\" TEXT NOT NULL,\n  \"shard\" INTEGER NOT NULL,\n  \"owner\" TEXT "
             "NOT NULL DEFAULT '',\n  \"token\" INTEGER NOT NULL DEFAULT 0,\n  \"expires_at\" "
             "INTEGER NOT NULL DEFAULT 0,\n  \"cursor\" TEXT NOT NULL DEFAULT '',\n  "
             "\"updated_at\" INTEGER NOT NULL DEFAULT (" +
             std::string(detail::kSqliteNowMicros) +
             "),\n  PRIMARY KEY (\"consumer\", \"shard\")\n);\nCREATE TABLE IF NOT EXISTS " +
             members +
             " (\n  \"consumer\" TEXT NOT NULL,\n  \"member\" TEXT NOT NULL,\n  \"expires_at\" "
             "INTEGER NOT NULL,\n  PRIMARY KEY (\"consumer\", \"member\")\n)";
  }
  return {};
}

std::string errors_ddl(Dialect dialect, const ErrorsSchema& s) {
  validate(s);
  const auto q = [&](std::string_view name) { return detail::quote(dialect, name); };
  std::string ddl;
  switch (dialect) {
    case Dialect::postgres:
      ddl = "CREATE TABLE IF NOT EXISTS " + q(s.table) +
            " (\n  \"id\" bigserial PRIMARY KEY,\n  \"consumer\" text NOT NULL,\n  \"event_id\" "
            "text NOT NULL,\n  \"message\" text NOT NULL,\n  \"status\" integer NOT NULL DEFAULT "
            "1,\n  \"created_at\" timestamptz NOT NULL DEFAULT now(),\n  \"updated_at\" "
            "timestamptz NOT NULL DEFAULT now(),\n  UNIQUE (\"consumer\", \"event_id\")\n)";
      break;
    case Dialect::mysql:
      ddl = "CREATE TABLE IF NOT EXISTS " + q(s.table) +
            " (\n  `id` BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,\n  `consumer` VARCHAR(255) "
            "NOT NULL,\n  `event_id` VARCHAR(255) NOT NULL,\n  `message` TEXT NOT NULL,\n  "
            "`status` INT NOT NULL DEFAULT 1,\n  `created_at` TIMESTAMP(6) NOT NULL DEFAULT "
            "CURRENT_TIMESTAMP(6),\n  `updated_at` TIMESTAMP(6) NOT NULL DEFAULT "
            "CURRENT_TIMESTAMP(6),\n  UNIQUE KEY (`consumer`, `event_id`)\n) ENGINE=InnoDB DEFAULT "
            "CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
      break;
    case Dialect::sqlite: {
      const std::string now = "(" + std::string(detail::kSqliteNowMicros) + ")";
      ddl = "CREATE TABLE IF NOT EXISTS " + q(s.table) + " (\n  " + q("id") +
            " INTEGER PRIMARY KEY AUTOINCREMENT,\n  " + q("consumer") + " TEXT NOT NULL,\n  " +
            q("event_id") + " TEXT NOT NULL,\n  " + q("message") + " TEXT NOT NULL,\n  " +
            q("status") + " INTEGER NOT NULL DEFAULT 1,\n  " + q("created_at") +
            " INTEGER NOT NULL DEFAULT " + now + ",\n  " + q("updated_at") +
            " INTEGER NOT NULL DEFAULT " + now + ",\n  UNIQUE (" + q("consumer") + ", " +
            q("event_id") + ")\n)";
      break;
    }
  }
  return ddl + ";\n" + events_ddl(dialect, EventsSchema{.table = s.events_table});
}

}  // namespace reflex::rsql
