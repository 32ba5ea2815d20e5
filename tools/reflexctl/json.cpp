// Events to and from JSON lines (see json.hpp).

#include "json.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace reflexctl {
namespace {

// The event's keys in the documented order (nlohmann::json would sort them).
using OrderedJson = nlohmann::ordered_json;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

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

OrderedJson event_object(const reflex::Event& e, bool foreign_id_as_base64) {
  OrderedJson out;
  out["id"] = e.id;
  out["type"] = e.type;
  if (foreign_id_as_base64) {
    out["foreign_id_base64"] = base64_encode(e.foreign_id);
  } else {
    out["foreign_id"] = e.foreign_id;
  }
  out["timestamp"] = rfc3339(e.timestamp);
  if (!e.metadata.empty()) out["metadata"] = base64_encode(e.metadata);
  if (!e.trace.empty()) out["trace"] = base64_encode(e.trace);
  return out;
}

int type_of(const nlohmann::json& value) {
  if (value.is_number_integer()) {
    const auto n = value.get<std::int64_t>();
    if (n >= std::numeric_limits<int>::min() && n <= std::numeric_limits<int>::max())
      return static_cast<int>(n);
  } else if (value.is_string()) {
    // Accepted as text too, as reflexctl always has: shell scripts often quote every value.
    const auto& text = value.get_ref<const std::string&>();
    int type = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), type);
    if (ec == std::errc() && end == text.data() + text.size()) return type;
  }
  throw std::invalid_argument("\"type\" must be an integer");
}

std::string bytes_of(const std::string& key, const nlohmann::json& value) {
  if (value.is_null()) return {};  // what Go and Python encoders write for no bytes
  if (value.is_string()) {
    if (auto bytes = base64_decode(value.get_ref<const std::string&>())) return std::move(*bytes);
  }
  throw std::invalid_argument("\"" + key + "\" must be base64 (or null)");
}

}  // namespace

std::string to_json(const reflex::Event& e) {
  // dump() refuses invalid UTF-8 (type_error 316); only the foreign id can hold such bytes
  // (ids are numbers or sequences, the rest is base64).
  try {
    return event_object(e, false).dump();
  } catch (const nlohmann::json::type_error&) {
    return event_object(e, true).dump();
  }
}

reflex::rsql::NewEvent event_from_json(std::string_view line) {
  nlohmann::json object;
  try {
    object = nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 5: …".
    std::string what = e.what();
    if (const auto bracket = what.find("] "); bracket != std::string::npos)
      what = what.substr(bracket + 2);
    throw std::invalid_argument("not JSON: " + what);
  }
  if (!object.is_object()) throw std::invalid_argument("expected a JSON object");
  reflex::rsql::NewEvent event;
  bool has_type = false;
  for (const auto& [key, value] : object.items()) {
    if (key == "foreign_id") {
      if (value.is_string()) {
        event.foreign_id = value.get<std::string>();
      } else if (value.is_number_integer()) {
        event.foreign_id = value.dump();
      } else {
        throw std::invalid_argument("\"foreign_id\" must be a string or an integer");
      }
    } else if (key == "type") {
      event.type = type_of(value);
      has_type = true;
    } else if (key == "metadata") {
      event.metadata = bytes_of(key, value);
    } else if (key == "trace") {
      event.trace = bytes_of(key, value);
    } else {
      throw std::invalid_argument("unknown field \"" + key + "\"");
    }
  }
  if (!has_type) throw std::invalid_argument("\"type\" is missing");
  return event;
}

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

}  // namespace reflexctl
