#pragma once
// JSON lines of events: what `tail` prints and `publish` reads.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "reflex/event.hpp"

namespace reflexctl {

/// {"id":…,"type":N,"foreign_id":…,"timestamp":"RFC 3339 UTC, microseconds"[,"metadata":base64]
/// [,"trace":base64]}
[[nodiscard]] std::string to_json(const reflex::Event& event);

[[nodiscard]] std::string base64_encode(std::string_view bytes);
/// std::nullopt when `text` is not base64.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

/// A flat JSON object of strings and integers (what `publish` accepts), values as text.
/// Throws std::invalid_argument saying what is wrong.
[[nodiscard]] std::map<std::string, std::string> parse_flat_object(std::string_view line);

}  // namespace reflexctl
