#pragma once
// The SQL of rstate for one dialect and schema, built once per Entities: the fixed statements of
// a change and the searches, whose WHERE and ORDER BY follow the query.

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "json.hpp"
#include "reflex/rsql/sql.hpp"
#include "reflex/rstate/entities.hpp"

namespace reflex::rstate::detail {

/// A parameter that owns its text (the searches build theirs).
struct Owned {
  std::variant<std::string, std::int64_t> value;
  [[nodiscard]] rsql::SqlParam as_param() const {
    if (const auto* text = std::get_if<std::string>(&value)) return std::string_view(*text);
    return std::get<std::int64_t>(value);
  }
};

/// A statement with its parameters, in `?` order.
struct Built {
  std::string sql;
  std::vector<Owned> params;
};

struct Statements {
  Statements(rsql::Dialect dialect, const EntitiesSchema& schema);

  rsql::Dialect dialect;
  /// PostgreSQL: upsert_entity creates or replaces a row in one statement.
  bool upsert = false;
  std::string probe_entities, probe_history;
  /// (domain, type, key) → values, version, updated.
  std::string select_entity;
  /// (domain, type, key) → values, version, locking the row for the transaction.
  std::string select_for_update;
  /// (domain, type, key, values, updated) → version.
  std::string upsert_entity;
  /// (domain, type, key, values, updated).
  std::string insert_entity;
  /// (values, updated, domain, type, key): version + 1.
  std::string update_entity;
  /// (domain, type, key).
  std::string delete_entity;
  /// (foreign_id, type, metadata, event_uuid, domain, type, key, values, method, claims,
  /// time_ns) → id.
  std::string insert_event;
  /// (event_uuid) → the event columns (see kEventColumns), entity_domain, entity_type.
  std::string select_event_by_uuid;

  [[nodiscard]] Built search_entities(const EntityQuery& query, const std::vector<Term>& terms,
                                      const Path& sort) const;
  [[nodiscard]] Built search_events(const EventQuery& query, const std::vector<Term>& terms,
                                    const Path& sort) const;

 private:
  /// " AND <values> matches each term", its parameters appended to `built`.
  void filter(Built& built, const std::string& column, const std::vector<Term>& terms) const;
  /// The ORDER BY terms of a sort on a field of `column`.
  [[nodiscard]] std::string order_by_field(Built& built, const std::string& column,
                                           const Path& sort, bool reverse) const;

  std::string entities_, events_;
};

}  // namespace reflex::rstate::detail
