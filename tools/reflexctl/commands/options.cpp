// Option values several commands share (see commands.hpp).

#include <charconv>

#include "commands/commands.hpp"
#include "errors.hpp"

namespace reflexctl {

const CLI::Validator& positive_integer() {
  static const CLI::Validator validator(
      [](std::string& text) -> std::string {
        std::int64_t value = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec == std::errc() && end == text.data() + text.size() && value > 0) return {};
        return "needs a positive integer, got '" + text + "'";
      },
      "", "positive integer");
  return validator;
}

std::chrono::milliseconds parse_duration(const std::string& flag, const std::string& text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  if (ec != std::errc() || value < 0) {
    throw UsageError(flag + " needs a duration like 500ms or 2s (got '" + text + "')");
  }
  if (unit == "ms") return std::chrono::milliseconds(value);
  if (unit == "s") return std::chrono::seconds(value);
  if (unit == "m") return std::chrono::minutes(value);
  if (unit == "h") return std::chrono::hours(value);
  throw UsageError(flag + " needs a unit: ms, s, m or h (got '" + text + "')");
}

std::string text(std::string_view raw) {
  if (raw.starts_with('\n')) raw.remove_prefix(1);
  return std::string(raw);
}

void require(const std::string& value, const std::string& message) {
  if (value.empty()) throw UsageError(message);
}

}  // namespace reflexctl
