#pragma once
// How rsql orders cursors: only cursors that are numbers have an order, and it is the numbers'.

#include <string>
#include <string_view>

namespace reflex::rsql::detail {

/// A cursor that compares as a number: decimal digits without a sign or leading zeros. Such
/// cursors order by (length, text), which every dialect compares the same way without casts.
[[nodiscard]] inline bool is_number(std::string_view cursor) noexcept {
  if (cursor.empty() || cursor.size() > 19) return false;
  if (cursor.size() > 1 && cursor.front() == '0') return false;
  for (const char c : cursor) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

/// a < b for two cursors that are numbers (is_number).
[[nodiscard]] inline bool number_less(std::string_view a, std::string_view b) noexcept {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

/// The SQL condition under which `column` may be overwritten by a numeric cursor bound to the
/// three `?` that follow (its length, its length, the cursor): the stored one is shorter, or as
/// long and smaller, as text (so "" and any shorter number qualify).
[[nodiscard]] inline std::string forward_condition(const std::string& column) {
  return "(LENGTH(" + column + ") < ? OR (LENGTH(" + column + ") = ? AND " + column + " < ?))";
}

}  // namespace reflex::rsql::detail
