// Durations on command lines and in messages (see durations.hpp).

#include "durations.hpp"

#include <charconv>
#include <cstdio>
#include <string_view>

#include "errors.hpp"
#include "reflex/stream.hpp"

namespace reflex_tools {

std::chrono::milliseconds max_duration() {
  return reflex::kMaxLag;
}

std::chrono::milliseconds parse_duration(const std::string& flag, const std::string& text) {
  return parse_duration(flag, text, max_duration());
}

std::chrono::milliseconds parse_duration(const std::string& flag, const std::string& text,
                                         std::chrono::milliseconds max) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  const std::string limit = format_duration(max);
  if (ec == std::errc::result_out_of_range) {
    throw UsageError(flag + " must be at most " + limit + " (got '" + text + "')");
  }
  if (ec != std::errc() || value < 0) {
    throw UsageError(flag + " needs a duration like 500ms or 2s (got '" + text + "')");
  }
  std::int64_t unit_ms = 0;
  if (unit == "ms") {
    unit_ms = 1;
  } else if (unit == "s") {
    unit_ms = 1000;
  } else if (unit == "m") {
    unit_ms = 60 * 1000;
  } else if (unit == "h") {
    unit_ms = 60 * 60 * 1000;
  } else {
    throw UsageError(flag + " needs a unit: ms, s, m or h (got '" + text + "')");
  }
  // Compared before multiplying: 9999999999999h must not wrap around into a valid value.
  if (value > max.count() / unit_ms) {
    throw UsageError(flag + " must be at most " + limit + " (got '" + text + "')");
  }
  return std::chrono::milliseconds(value * unit_ms);
}

std::string format_duration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  if (d < seconds(1)) return std::to_string(duration_cast<milliseconds>(d).count()) + "ms";
  if (d < minutes(1)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", duration<double>(d).count());
    return buf;
  }
  const auto total = duration_cast<seconds>(d).count();
  if (d < hours(1)) return std::to_string(total / 60) + "m" + std::to_string(total % 60) + "s";
  const auto h = total / 3600;
  if (h >= 24 * 365 && total % (24 * 365 * 3600) == 0) {
    return std::to_string(h / (24 * 365)) + " years";
  }
  return std::to_string(h) + "h" + std::to_string(total % 3600 / 60) + "m";
}

}  // namespace reflex_tools
