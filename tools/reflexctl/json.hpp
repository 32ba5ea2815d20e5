#pragma once
// Events as JSON lines: what `tail` and `backfill` write and what `publish` reads (nlohmann-json).

#include <optional>
#include <string>
#include <string_view>

#include "reflex/event.hpp"
#include "reflex/rsql/events_table.hpp"

namespace reflexctl {

/// One line of JSON (no newline): {"id","type","foreign_id","timestamp"[,"metadata"][,"trace"]},
/// in that order; timestamp RFC 3339 UTC with microseconds; metadata and trace base64, omitted
/// when empty. A foreign id that is not valid UTF-8 (SQLite stores any bytes) cannot be a JSON
/// string: it is written, losslessly, as "foreign_id_base64" (base64 of the bytes) instead.
[[nodiscard]] std::string to_json(const reflex::Event& event);

/// An event to publish from one JSON object: "type" (an integer, or a string holding one;
/// required), "foreign_id" (a string or an integer), "metadata" and "trace" (base64, or null for
/// none). Any valid JSON is read, escapes such as \u003c included. Throws std::invalid_argument
/// saying what is wrong (not JSON, not an object, an unknown field, a wrong type).
[[nodiscard]] reflex::rsql::NewEvent event_from_json(std::string_view line);

[[nodiscard]] std::string base64_encode(std::string_view bytes);
/// std::nullopt when `text` is not base64 (standard alphabet, padded).
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

}  // namespace reflexctl
