#include "reflex/encoding.hpp"

#include <algorithm>
#include <array>

#include "reflex/errors.hpp"

namespace reflex {

namespace {

constexpr char kLowerDigits[] = "0123456789abcdef";
constexpr char kUpperDigits[] = "0123456789ABCDEF";

/// Nibble value of each byte, or -1 for a byte that is not a hex digit: decoding a large bytea
/// column is one table look-up per character.
constexpr auto kHexValue = [] {
  std::array<signed char, 256> table{};
  table.fill(-1);
  for (int c = 0; c < 10; ++c) table['0' + c] = static_cast<signed char>(c);
  for (int c = 0; c < 6; ++c) {
    table['a' + c] = static_cast<signed char>(10 + c);
    table['A' + c] = static_cast<signed char>(10 + c);
  }
  return table;
}();

int nibble(char c) noexcept {
  return kHexValue[static_cast<unsigned char>(c)];
}

bool is_alnum(unsigned char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace

void hex_append(std::string& out, std::string_view bytes) {
  const std::size_t at = out.size();
  out.resize(at + bytes.size() * 2);
  char* p = out.data() + at;
  for (const unsigned char c : bytes) {
    *p++ = kLowerDigits[c >> 4];
    *p++ = kLowerDigits[c & 0xf];
  }
}

std::string hex_encode(std::string_view bytes) {
  std::string out;
  hex_append(out, bytes);
  return out;
}

bool hex_decode(std::string_view hex, std::string& out) {
  if (hex.size() % 2 != 0) return false;
  out.resize(hex.size() / 2);
  int bad = 0;
  for (std::size_t i = 0, j = 0; i < out.size(); ++i, j += 2) {
    const int hi = nibble(hex[j]);
    const int lo = nibble(hex[j + 1]);
    bad |= hi | lo;  // negative when either is not a digit: checked once at the end
    out[i] = static_cast<char>((hi << 4) | (lo & 0xf));
  }
  return bad >= 0;
}

std::optional<std::size_t> invalid_utf8_at(std::string_view text) noexcept {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t size = text.size();
  std::size_t i = 0;
  while (i < size) {
    const unsigned char c = bytes[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // The length of the sequence and the range its second byte must be in (which rules out
    // overlong forms, surrogates and code points above U+10FFFF).
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      if (c == 0xe0) low = 0xa0;
      if (c == 0xed) high = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      if (c == 0xf0) low = 0x90;
      if (c == 0xf4) high = 0x8f;
    } else {
      return i;
    }
    if (i + length > size) return i;
    if (bytes[i + 1] < low || bytes[i + 1] > high) return i;
    for (std::size_t k = 2; k < length; ++k) {
      if ((bytes[i + k] & 0xc0) != 0x80) return i;
    }
    i += length;
  }
  return std::nullopt;
}

std::string percent_encode(std::string_view text, std::string_view keep) {
  std::string out;
  out.reserve(text.size());
  for (const unsigned char c : text) {
    if (is_alnum(c) || (c != '%' && keep.find(static_cast<char>(c)) != std::string_view::npos)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kUpperDigits[c >> 4];
      out += kUpperDigits[c & 0xf];
    }
  }
  return out;
}

std::optional<std::string> try_percent_decode(std::string_view text) {
  if (text.find('%') == std::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = nibble(text[i + 1]);
    const int lo = nibble(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string percent_decode(std::string_view text) {
  if (auto decoded = try_percent_decode(text)) return std::move(*decoded);
  // Name the first malformed escape.
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') continue;
    if (i + 2 >= text.size()) {
      throw ConfigError("malformed percent escape at the end of \"" + std::string(text) + "\"");
    }
    if (nibble(text[i + 1]) < 0 || nibble(text[i + 2]) < 0) {
      throw ConfigError("malformed percent escape \"" + std::string(text.substr(i, 3)) +
                        "\" in \"" + std::string(text) + "\"");
    }
    i += 2;
  }
  throw ConfigError("malformed percent escape in \"" + std::string(text) + "\"");
}

std::string quoted(std::string_view text, std::size_t max_bytes) {
  std::size_t end = std::min(text.size(), max_bytes);
  // Back to the start of a UTF-8 character: a cut inside one would show a broken character.
  if (end < text.size()) {
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  }
  std::string out;
  out.reserve(end + 8);
  out += '"';
  for (const char c : text.substr(0, end)) {
    const auto b = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (b < 0x20 || b == 0x7F) {
          out += "\\x";
          out += kLowerDigits[b >> 4];
          out += kLowerDigits[b & 0x0F];
        } else {
          out += c;
        }
    }
  }
  if (end < text.size()) out += "…";
  out += '"';
  return out;
}

}  // namespace reflex
