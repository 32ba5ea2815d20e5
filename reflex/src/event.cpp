#include "reflex/event.hpp"

#include <charconv>

#include "reflex/encoding.hpp"
#include "reflex/errors.hpp"

namespace reflex {

std::optional<std::int64_t> parse_int64(std::string_view text) noexcept {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

std::optional<std::int64_t> Event::try_id_int() const noexcept {
  return parse_int64(id);
}

std::optional<std::int64_t> Event::try_foreign_id_int() const noexcept {
  return parse_int64(foreign_id);
}

std::int64_t Event::id_int() const {
  if (auto v = try_id_int()) return *v;
  throw Error("event id " + quoted(id) + " is not a decimal 64-bit integer");
}

std::int64_t Event::foreign_id_int() const {
  if (auto v = try_foreign_id_int()) return *v;
  throw Error("event foreign id " + quoted(foreign_id) + " (event id " + quoted(id) +
              ") is not a decimal 64-bit integer");
}

}  // namespace reflex
