#pragma once
// How values travel between reflex and SQL: timestamps as microseconds since the epoch (BIGINT,
// the same in every dialect), cursors as decimal event ids.

#include <chrono>
#include <cstdint>
#include <string_view>

namespace reflex::rsql::detail {

/// Microseconds since the epoch <-> time_point.
[[nodiscard]] inline std::chrono::system_clock::time_point from_micros(std::int64_t micros) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::microseconds(micros)));
}
[[nodiscard]] inline std::int64_t to_micros(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
}

/// Parses an events-table cursor ("" = 0); CursorError naming the table otherwise.
[[nodiscard]] std::int64_t parse_cursor(std::string_view cursor, std::string_view table);

}  // namespace reflex::rsql::detail
