// Option values several commands share (see commands.hpp).

#include <charconv>
#include <cstdio>

#include "commands/commands.hpp"
#include "errors.hpp"
#include "reflex/stream.hpp"

namespace reflexctl {

CLI::Validator integer_in(std::int64_t min, std::int64_t max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        std::int64_t value = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec == std::errc() && end == text.data() + text.size() && value >= min && value <= max) {
          return {};
        }
        return "needs a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
               ", got '" + text + "'";
      },
      "", "integer");
}

CLI::Validator positive_integer(std::int64_t max) {
  return integer_in(1, max);
}

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

std::string text(std::string_view raw) {
  if (raw.starts_with('\n')) raw.remove_prefix(1);
  return std::string(raw);
}

void require(const std::string& value, const std::string& message) {
  if (value.empty()) throw UsageError(message);
}

}  // namespace reflexctl
