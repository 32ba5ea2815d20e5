#include "json.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace reflexctl {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void append_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
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
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::string rfc3339(std::chrono::system_clock::time_point time) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  long fraction = static_cast<long>(micros % 1000000);
  if (fraction < 0) {
    fraction += 1000000;
    --seconds;
  }
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fraction);
  return buf;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < bytes.size()) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  unsigned v = 0;
  int bits = 0;
  std::size_t padding = 0;
  for (const char c : text) {
    int d = -1;
    if (c >= 'A' && c <= 'Z')
      d = c - 'A';
    else if (c >= 'a' && c <= 'z')
      d = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      d = c - '0' + 52;
    else if (c == '+')
      d = 62;
    else if (c == '/')
      d = 63;
    else if (c == '=') {
      ++padding;
      d = 0;
    }
    if (d < 0 || (padding > 0 && c != '=')) return std::nullopt;
    v = (v << 6) | static_cast<unsigned>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xff);
    }
  }
  if (padding > 2) return std::nullopt;
  out.resize(out.size() - padding);
  return out;
}

std::string to_json(const reflex::Event& e) {
  std::string out = "{\"id\":";
  append_string(out, e.id);
  out += ",\"type\":" + std::to_string(e.type) + ",\"foreign_id\":";
  append_string(out, e.foreign_id);
  out += ",\"timestamp\":\"" + rfc3339(e.timestamp) + "\"";
  if (!e.metadata.empty()) out += ",\"metadata\":\"" + base64_encode(e.metadata) + "\"";
  if (!e.trace.empty()) out += ",\"trace\":\"" + base64_encode(e.trace) + "\"";
  return out + "}";
}

std::map<std::string, std::string> parse_flat_object(std::string_view s) {
  std::size_t i = 0;
  const auto fail = [&](const std::string& what) -> void {
    throw std::invalid_argument(what + " at column " + std::to_string(i + 1));
  };
  const auto skip = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) ++i;
  };
  const auto string = [&]() -> std::string {
    if (i >= s.size() || s[i] != '"') fail("expected a string");
    ++i;
    std::string out;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\') {
        if (++i >= s.size()) break;
        switch (s[i]) {
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case 'r':
            out += '\r';
            break;
          case '"':
          case '\\':
          case '/':
            out += s[i];
            break;
          default:
            fail("unsupported escape");
        }
      } else {
        out += s[i];
      }
      ++i;
    }
    if (i >= s.size()) fail("unterminated string");
    ++i;
    return out;
  };
  std::map<std::string, std::string> out;
  skip();
  if (i >= s.size() || s[i] != '{') fail("expected a JSON object");
  ++i;
  skip();
  if (i < s.size() && s[i] == '}') {
    ++i;
  } else {
    for (;;) {
      skip();
      const std::string key = string();
      skip();
      if (i >= s.size() || s[i] != ':') fail("expected ':'");
      ++i;
      skip();
      if (i < s.size() && s[i] == '"') {
        out[key] = string();
      } else {
        const std::size_t start = i;
        if (i < s.size() && s[i] == '-') ++i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        if (i == start) fail("expected a string or an integer for \"" + key + "\"");
        out[key] = std::string(s.substr(start, i - start));
      }
      skip();
      if (i < s.size() && s[i] == ',') {
        ++i;
        continue;
      }
      if (i < s.size() && s[i] == '}') {
        ++i;
        break;
      }
      fail("expected ',' or '}'");
    }
  }
  skip();
  if (i != s.size()) fail("unexpected text after the object");
  return out;
}

}  // namespace reflexctl
