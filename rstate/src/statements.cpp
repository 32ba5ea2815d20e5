#include "statements.hpp"

#include "sql_names.hpp"

namespace reflex::rstate::detail {

namespace {

/// The columns of an event row as event_of_row reads them (entities.cpp).
constexpr const char* kEventColumns[] = {"id",     "event_uuid", "entity_key", "entity_values",
                                         "method", "claims",     "time_ns",    "type"};

}  // namespace

Statements::Statements(rsql::Dialect d, const EntitiesSchema& schema) : dialect(d) {
  const auto q = [&](std::string_view name) { return quote(dialect, name); };
  entities_ = q(schema.entities_table);
  events_ = q(schema.events_table);
  const bool pg = dialect == rsql::Dialect::postgres;
  upsert = pg;
  const std::string where_key =
      " WHERE " + q("domain") + " = ? AND " + q("type") + " = ? AND " + q("key") + " = ?";
  // PostgreSQL infers jsonb for a text parameter compared with or assigned to a jsonb column.
  probe_entities = "SELECT " + q("domain") + ", " + q("type") + ", " + q("key") + ", " +
                   q("values") + ", " + q("version") + ", " + q("updated") + " FROM " + entities_ +
                   " WHERE 1 = 0";
  std::string event_columns;
  for (const char* column : kEventColumns) {
    event_columns += (event_columns.empty() ? "" : ", ") + q(column);
  }
  probe_history = "SELECT " + event_columns + ", " + q("entity_domain") + ", " + q("entity_type") +
                  " FROM " + events_ + " WHERE 1 = 0";
  select_entity = "SELECT " + q("values") + ", " + q("version") + ", " + q("updated") + " FROM " +
                  entities_ + where_key;
  select_for_update = "SELECT " + q("values") + ", " + q("version") + " FROM " + entities_ +
                      where_key + (dialect == rsql::Dialect::sqlite ? "" : " FOR UPDATE");
  const std::string insert_head =
      "INSERT INTO " + entities_ + " (" + q("domain") + ", " + q("type") + ", " + q("key") + ", " +
      q("values") + ", " + q("version") + ", " + q("updated") + ") VALUES (?, ?, ?, ?, 1, ?)";
  insert_entity = insert_head;
  upsert_entity = insert_head + " ON CONFLICT (" + q("domain") + ", " + q("type") + ", " +
                  q("key") + ") DO UPDATE SET " + q("values") + " = EXCLUDED." + q("values") +
                  ", " + q("version") + " = " + entities_ + "." + q("version") + " + 1, " +
                  q("updated") + " = EXCLUDED." + q("updated") + " RETURNING " + q("version");
  update_entity = "UPDATE " + entities_ + " SET " + q("values") + " = ?, " + q("version") + " = " +
                  q("version") + " + 1, " + q("updated") + " = ?" + where_key;
  delete_entity = "DELETE FROM " + entities_ + where_key;
  // MariaDB (10.5 on) and SQLite (3.35 on) answer RETURNING like PostgreSQL.
  insert_event = "INSERT INTO " + events_ + " (" + q("foreign_id") + ", " + q("type") + ", " +
                 q("metadata") + ", " + q("event_uuid") + ", " + q("entity_domain") + ", " +
                 q("entity_type") + ", " + q("entity_key") + ", " + q("entity_values") + ", " +
                 q("method") + ", " + q("claims") + ", " + q("time_ns") +
                 ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING " + q("id");
  select_event_by_uuid = "SELECT " + event_columns + ", " + q("entity_domain") + ", " +
                         q("entity_type") + " FROM " + events_ + " WHERE " + q("event_uuid") +
                         " = ?";
}

void Statements::filter(Built& built, const std::string& column,
                        const std::vector<Term>& terms) const {
  if (terms.empty()) return;
  switch (dialect) {
    case rsql::Dialect::postgres: {
      // Containment finds the candidates on the GIN index; it also accepts a larger array or
      // object than the one asked for, so those are compared exactly besides.
      built.sql += " AND " + column + " @> ?::jsonb";
      built.params.push_back({nested(terms).dump()});
      for (const auto& term : terms) {
        if (!term.value.is_array() && !term.value.is_object()) continue;
        built.sql += " AND " + column + " #> ?::text[] = ?::jsonb";
        built.params.push_back({pg_path(term.path)});
        built.params.push_back({term.value.dump()});
      }
      break;
    }
    case rsql::Dialect::mysql:
      for (const auto& term : terms) {
        // "= 1": MariaDB 10.11 lets a row whose JSON_EQUALS is NULL (the key missing) through a
        // bare WHERE JSON_EQUALS(…).
        built.sql += " AND JSON_EQUALS(JSON_EXTRACT(" + column + ", ?), ?) = 1";
        built.params.push_back({json_path(term.path)});
        built.params.push_back({term.value.dump()});
      }
      break;
    case rsql::Dialect::sqlite:
      for (const auto& term : terms) {
        built.sql += " AND json_extract(" + column + ", ?) = json_extract(?, '$')";
        built.params.push_back({json_path(term.path)});
        built.params.push_back({term.value.dump()});
      }
      break;
  }
}

std::string Statements::order_by_field(Built& built, const std::string& column, const Path& sort,
                                       bool reverse) const {
  const std::string dir = reverse ? " DESC" : " ASC";
  switch (dialect) {
    case rsql::Dialect::postgres:
      // jsonb orders numbers as numbers and strings as strings; a missing field is NULL, last.
      built.params.push_back({pg_path(sort)});
      return column + " #> ?::text[]" + dir;
    case rsql::Dialect::mysql:
      // JSON_VALUE is text: numbers first by their value, then the text.
      built.params.push_back({json_path(sort)});
      built.params.push_back({json_path(sort)});
      return "CAST(JSON_VALUE(" + column + ", ?) AS DOUBLE)" + dir + ", JSON_VALUE(" + column +
             ", ?)" + dir;
    case rsql::Dialect::sqlite:
      // json_extract gives SQL values: numbers before text, each in its own order.
      built.params.push_back({json_path(sort)});
      return "json_extract(" + column + ", ?)" + dir;
  }
  return {};
}

Built Statements::search_entities(const EntityQuery& query, const std::vector<Term>& terms,
                                  const Path& sort) const {
  const auto q = [&](std::string_view name) { return quote(dialect, name); };
  Built built;
  built.sql = "SELECT " + q("key") + ", " + q("values") + ", " + q("version") + ", " +
              q("updated") + " FROM " + entities_ + " WHERE " + q("domain") + " = ? AND " +
              q("type") + " = ?";
  built.params.push_back({query.domain});
  built.params.push_back({query.type});
  filter(built, q("values"), terms);
  const std::string dir = query.sort.reverse ? " DESC" : " ASC";
  built.sql += " ORDER BY ";
  if (!sort.empty())
    built.sql += order_by_field(built, q("values"), sort, query.sort.reverse) + ", ";
  built.sql += q("key") + dir + " LIMIT ? OFFSET ?";
  built.params.push_back({std::int64_t{query.limit}});
  built.params.push_back({std::int64_t{query.offset}});
  return built;
}

Built Statements::search_events(const EventQuery& query, const std::vector<Term>& terms,
                                const Path& sort) const {
  const auto q = [&](std::string_view name) { return quote(dialect, name); };
  Built built;
  std::string columns;
  for (const char* column : kEventColumns) columns += (columns.empty() ? "" : ", ") + q(column);
  built.sql = "SELECT " + columns + " FROM " + events_ + " WHERE " + q("entity_domain") +
              " = ? AND " + q("entity_type") + " = ?";
  built.params.push_back({query.domain});
  built.params.push_back({query.type});
  if (!query.key.empty()) {
    built.sql += " AND " + q("entity_key") + " = ?";
    built.params.push_back({query.key});
  }
  if (query.min_ns > 0) {
    built.sql += " AND " + q("time_ns") + " > ?";
    built.params.push_back({query.min_ns});
  }
  if (query.max_ns > 0) {
    built.sql += " AND " + q("time_ns") + " < ?";
    built.params.push_back({query.max_ns});
  }
  filter(built, q("entity_values"), terms);
  const std::string dir = query.sort.reverse ? " DESC" : " ASC";
  built.sql += " ORDER BY ";
  if (!sort.empty()) {
    built.sql += order_by_field(built, q("entity_values"), sort, query.sort.reverse) + ", ";
  } else if (query.sort.field == "time") {
    built.sql += q("time_ns") + dir + ", ";
  }
  built.sql += q("id") + dir + " LIMIT ? OFFSET ?";
  built.params.push_back({std::int64_t{query.limit}});
  built.params.push_back({std::int64_t{query.offset}});
  return built;
}

}  // namespace reflex::rstate::detail
