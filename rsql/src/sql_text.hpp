#pragma once
// Small SQL text helpers shared by the dialects.

#include <string>
#include <string_view>

#include "reflex/rsql/schema.hpp"

namespace reflex::rsql::detail {

/// SQLite's current time in microseconds since the epoch (julianday has millisecond resolution
/// for 'now'; reflex's own inserts write exact microseconds).
inline constexpr std::string_view kSqliteNowMicros =
    "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)";

/// Quotes a validated identifier for the dialect (names are validated before they get here, so
/// quoting only protects reserved words such as `cursor` and `type`). SQLite gets backquotes: it
/// reads a double-quoted name that matches no column as a string literal.
inline std::string quote(Dialect dialect, std::string_view name) {
  const char q = dialect == Dialect::postgres ? '"' : '`';
  std::string out;
  out.reserve(name.size() + 2);
  out += q;
  out += name;
  out += q;
  return out;
}

}  // namespace reflex::rsql::detail
