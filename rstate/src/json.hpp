#pragma once
// JSON for rstate (nlohmann-json, private to the module): checking values, merging an edit,
// turning stategate's query strings into SQL paths, and the event's metadata (stategate's Event
// in proto3 JSON).

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/rstate/entities.hpp"

namespace reflex::rstate::detail {

using Json = nlohmann::json;

/// `text` parsed as a JSON object; ConfigError naming `what` otherwise.
[[nodiscard]] Json parse_object(std::string_view text, std::string_view what);

/// A field of the values, one key per level ("address.city" → {"address", "city"}).
using Path = std::vector<std::string>;

/// `field` split at dots. With `from_event`, the prefix "entity.values." stategate's event
/// queries use is dropped. ConfigError for an empty key or one with a quote, a backslash or a
/// control character (they could not be written as an SQL JSON path safely).
[[nodiscard]] Path parse_path(std::string_view field, bool from_event);

/// One `"key": value` pair of a filter.
struct Term {
  Path path;
  Json value;
};
/// A filter (a JSON object of pairs; "" or "{}": none).
[[nodiscard]] std::vector<Term> parse_filter(std::string_view text, bool from_event);

/// `$."a"."b"`: a path for MariaDB's and SQLite's JSON functions.
[[nodiscard]] std::string json_path(const Path& path);
/// `{"a","b"}`: a PostgreSQL text[] literal for `#>`.
[[nodiscard]] std::string pg_path(const Path& path);
/// The terms as one nested object ({"a": {"b": v}}), for PostgreSQL's `@>`.
[[nodiscard]] Json nested(const std::vector<Term>& terms);

/// The event's metadata: stategate's Event in proto3 JSON (the int64 time as a string, as
/// proto3's JSON mapping writes it).
[[nodiscard]] std::string event_json(const EntityEvent& event);

}  // namespace reflex::rstate::detail
