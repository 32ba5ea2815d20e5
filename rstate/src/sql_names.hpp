#pragma once
// Quoting the (validated, plain) names of rstate's tables and columns in each dialect: PostgreSQL
// double quotes; MariaDB and SQLite backquotes (SQLite reads a double-quoted name that matches no
// column as a string literal).

#include <string>
#include <string_view>

#include "reflex/rsql/schema.hpp"

namespace reflex::rstate::detail {

[[nodiscard]] inline std::string quote(rsql::Dialect dialect, std::string_view name) {
  const char q = dialect == rsql::Dialect::postgres ? '"' : '`';
  std::string out;
  out.reserve(name.size() + 2);
  out += q;
  out += name;
  out += q;
  return out;
}

}  // namespace reflex::rstate::detail
