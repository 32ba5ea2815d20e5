#pragma once
// Durations as operators write them on command lines and in the environment ("500ms", "2s",
// "5m", "1h") and as messages show them ("3.2s", "4m10s").

#include <chrono>
#include <string>

namespace reflex_tools {

/// The longest duration a flag takes unless told otherwise: reflex::kMaxLag, a century.
[[nodiscard]] std::chrono::milliseconds max_duration();

/// "500ms", "2s", "5m", "1h", at most `max`; a UsageError naming `flag` otherwise (a number with
/// no unit, a negative one, one that overflows or exceeds `max`).
[[nodiscard]] std::chrono::milliseconds parse_duration(const std::string& flag,
                                                       const std::string& text,
                                                       std::chrono::milliseconds max);
[[nodiscard]] std::chrono::milliseconds parse_duration(const std::string& flag,
                                                       const std::string& text);

/// `d` as an operator reads it: "250ms", "3.2s", "4m10s", "2h5m".
[[nodiscard]] std::string format_duration(std::chrono::nanoseconds d);

}  // namespace reflex_tools
