#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "reflex/export.hpp"

namespace reflex {

/// Byte encodings every module shares: hex for binary values in SQL and statement names,
/// percent-encoding for URIs and NATS header values. One implementation of each, so that the
/// same bytes are always written the same way.
///
/// Thread-safety: pure functions.

/// Lower-case hex digits of `bytes`, appended to `out` (two characters per byte).
REFLEX_CORE_EXPORT void hex_append(std::string& out, std::string_view bytes);
/// Lower-case hex digits of `bytes`.
[[nodiscard]] REFLEX_CORE_EXPORT std::string hex_encode(std::string_view bytes);
/// Decodes hex digits (either case) into `out`, replacing its contents. Returns false, leaving
/// `out` unspecified, when `hex` has an odd length or a character that is not a hex digit.
[[nodiscard]] REFLEX_CORE_EXPORT bool hex_decode(std::string_view hex, std::string& out);

/// The offset of the first byte of `text` that is not part of valid UTF-8 (RFC 3629: no overlong
/// forms, no surrogates, nothing above U+10FFFF), or nullopt when all of it is valid.
[[nodiscard]] REFLEX_CORE_EXPORT std::optional<std::size_t> invalid_utf8_at(
    std::string_view text) noexcept;
/// True when `text` is valid UTF-8: what protobuf `string` fields and JSON strings carry.
[[nodiscard]] inline bool is_utf8(std::string_view text) noexcept {
  return !invalid_utf8_at(text).has_value();
}

/// Percent-encodes `text`: ASCII letters, digits and the characters of `keep` stay as they are,
/// every other byte becomes `%XX` (upper-case hex, RFC 3986).
[[nodiscard]] REFLEX_CORE_EXPORT std::string percent_encode(std::string_view text,
                                                            std::string_view keep = "-._~");
/// Percent-decodes `text`; nullopt when an escape is malformed (`%` not followed by two hex
/// digits).
[[nodiscard]] REFLEX_CORE_EXPORT std::optional<std::string> try_percent_decode(
    std::string_view text);
/// Percent-decodes `text`; throws ConfigError naming a malformed escape and the text.
[[nodiscard]] REFLEX_CORE_EXPORT std::string percent_decode(std::string_view text);

/// `text` as an error message names it: between double quotes, `"` and `\` escaped with a
/// backslash, every control byte as `\n`, `\r`, `\t` or `\xNN`, and cut after `max_bytes` (at a
/// UTF-8 character boundary) with "…" before the closing quote. Bad input is named this way so
/// that a value holding a line break cannot split a one-line error, and an oversized one cannot
/// flood a log.
[[nodiscard]] REFLEX_CORE_EXPORT std::string quoted(std::string_view text,
                                                    std::size_t max_bytes = 128);

}  // namespace reflex
