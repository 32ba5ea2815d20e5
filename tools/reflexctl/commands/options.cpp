// Option values several commands share (see commands.hpp).

#include <charconv>

#include "commands/commands.hpp"
#include "errors.hpp"

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

std::string text(std::string_view raw) {
  if (raw.starts_with('\n')) raw.remove_prefix(1);
  return std::string(raw);
}

void require(const std::string& value, const std::string& message) {
  if (value.empty()) throw UsageError(message);
}

}  // namespace reflexctl
