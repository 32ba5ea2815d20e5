// The pieces of windshift's wire format that are not plain headers: RFC 3339 times as Go writes
// them, W3C traceparent recognition, and the reflexpb.Event envelope (protobuf encoded by hand:
// rnats does not depend on protobuf, and the envelope has six scalar fields).

#include <array>
#include <chrono>
#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "codec.hpp"
#include "reflex/errors.hpp"

namespace reflex::rnats::detail {

namespace {

using std::chrono::days;
using std::chrono::duration_cast;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using std::chrono::sys_days;
using Clock = std::chrono::system_clock;

void put_digits(std::string& out, long long value, int width) {
  std::array<char, 20> buf{};
  for (int i = width - 1; i >= 0; --i) {
    buf[static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(buf.data(), static_cast<std::size_t>(width));
}

// Reads exactly `width` digits at `pos`.
std::optional<int> digits(std::string_view text, std::size_t& pos, std::size_t width) {
  if (pos + width > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += width;
  return value;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

bool lower_hex(std::string_view text) {
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// --- protobuf wire format, the few pieces the envelope needs ---------------------------------

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

void put_tag(std::string& out, int field, int wire_type) {
  put_varint(out, static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(wire_type));
}

void put_bytes(std::string& out, int field, std::string_view bytes) {
  if (bytes.empty()) return;  // proto3: defaults are not written
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}

std::optional<std::uint64_t> get_varint(std::string_view in, std::size_t& pos) {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= in.size()) return std::nullopt;
    const auto b = static_cast<unsigned char>(in[pos++]);
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  return std::nullopt;
}

// Skips a field of `wire_type`; false when the bytes end early or the type is unknown.
bool skip(std::string_view in, std::size_t& pos, std::uint64_t wire_type) {
  switch (wire_type) {
    case 0:
      return get_varint(in, pos).has_value();
    case 1:
      if (pos + 8 > in.size()) return false;
      pos += 8;
      return true;
    case 2: {
      const auto len = get_varint(in, pos);
      if (!len || *len > in.size() - pos) return false;
      pos += *len;
      return true;
    }
    case 5:
      if (pos + 4 > in.size()) return false;
      pos += 4;
      return true;
    default:
      return false;
  }
}

std::optional<std::string_view> get_bytes(std::string_view in, std::size_t& pos) {
  const auto len = get_varint(in, pos);
  if (!len || *len > in.size() - pos) return std::nullopt;
  const auto out = in.substr(pos, *len);
  pos += *len;
  return out;
}

}  // namespace

std::string format_rfc3339(Clock::time_point t) {
  const auto ns = duration_cast<nanoseconds>(t.time_since_epoch());
  auto day = std::chrono::floor<days>(ns);
  const std::chrono::year_month_day ymd{sys_days{day}};
  const int year = static_cast<int>(ymd.year());
  if (year < 1 || year > 9999) {
    throw ConfigError("time " + std::to_string(ns.count()) +
                      " ns since 1970 is outside RFC 3339's years 0001..9999");
  }
  auto rest = ns - duration_cast<nanoseconds>(day);
  const auto secs = duration_cast<seconds>(rest);
  const long long fraction = (rest - secs).count();
  const long long s = secs.count();
  std::string out;
  out.reserve(30);
  put_digits(out, year, 4);
  out += '-';
  put_digits(out, static_cast<unsigned>(ymd.month()), 2);
  out += '-';
  put_digits(out, static_cast<unsigned>(ymd.day()), 2);
  out += 'T';
  put_digits(out, s / 3600, 2);
  out += ':';
  put_digits(out, s / 60 % 60, 2);
  out += ':';
  put_digits(out, s % 60, 2);
  if (fraction > 0) {
    // Go's ".999999999": up to nine digits, trailing zeros dropped.
    std::string f;
    put_digits(f, fraction, 9);
    while (!f.empty() && f.back() == '0') f.pop_back();
    out += '.';
    out += f;
  }
  out += 'Z';
  return out;
}

std::optional<Clock::time_point> parse_rfc3339(std::string_view text) {
  std::size_t pos = 0;
  const auto year = digits(text, pos, 4);
  if (!year || !expect(text, pos, '-')) return std::nullopt;
  const auto month = digits(text, pos, 2);
  if (!month || !expect(text, pos, '-')) return std::nullopt;
  const auto day = digits(text, pos, 2);
  if (!day || pos >= text.size() || (text[pos] != 'T' && text[pos] != 't')) return std::nullopt;
  ++pos;
  const auto hour = digits(text, pos, 2);
  if (!hour || !expect(text, pos, ':')) return std::nullopt;
  const auto minute = digits(text, pos, 2);
  if (!minute || !expect(text, pos, ':')) return std::nullopt;
  const auto second = digits(text, pos, 2);
  if (!second) return std::nullopt;
  long long fraction = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int n = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (n < 9) {
        fraction = fraction * 10 + (text[pos] - '0');
        ++n;
      }
      ++pos;
    }
    if (n == 0) return std::nullopt;
    for (; n < 9; ++n) fraction *= 10;
  }
  long long offset = 0;  // seconds east of UTC
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    const auto oh = digits(text, pos, 2);
    if (!oh || !expect(text, pos, ':')) return std::nullopt;
    const auto om = digits(text, pos, 2);
    if (!om || *oh > 23 || *om > 59) return std::nullopt;
    offset = sign * (*oh * 3600LL + *om * 60LL);
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{*year},
                                        std::chrono::month{static_cast<unsigned>(*month)},
                                        std::chrono::day{static_cast<unsigned>(*day)}};
  if (!ymd.ok() || *hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
  const auto ns =
      duration_cast<nanoseconds>(sys_days{ymd}.time_since_epoch()) +
      nanoseconds((*hour * 3600LL + *minute * 60LL + *second - offset) * 1'000'000'000LL +
                  fraction);
  return Clock::time_point(duration_cast<Clock::duration>(ns));
}

bool is_traceparent(std::string_view t) {
  return t.size() == 55 && t.substr(0, 3) == "00-" && t[35] == '-' && t[52] == '-' &&
         lower_hex(t.substr(3, 32)) && lower_hex(t.substr(36, 16)) && lower_hex(t.substr(53, 2));
}

// reflexpb.Event (reflex.proto): int32 type = 3; google.protobuf.Timestamp timestamp = 4;
// string foreign_id = 5; string id = 6; bytes metadata = 7; bytes trace = 8.
std::string encode_envelope(const Event& event) {
  std::string out;
  if (event.type != 0) {
    put_tag(out, 3, 0);
    // int32 on the wire: a negative value is sign-extended to 64 bits.
    put_varint(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(event.type)));
  }
  if (event.timestamp != Clock::time_point{}) {
    const auto ns = duration_cast<nanoseconds>(event.timestamp.time_since_epoch()).count();
    std::int64_t secs = ns / 1'000'000'000;
    std::int64_t nanos = ns % 1'000'000'000;
    if (nanos < 0) {  // Timestamp's nanos are never negative
      nanos += 1'000'000'000;
      --secs;
    }
    std::string ts;
    if (secs != 0) {
      put_tag(ts, 1, 0);
      put_varint(ts, static_cast<std::uint64_t>(secs));
    }
    if (nanos != 0) {
      put_tag(ts, 2, 0);
      put_varint(ts, static_cast<std::uint64_t>(nanos));
    }
    put_tag(out, 4, 2);
    put_varint(out, ts.size());
    out += ts;
  }
  put_bytes(out, 5, event.foreign_id);
  put_bytes(out, 6, event.id);
  put_bytes(out, 7, event.metadata);
  put_bytes(out, 8, event.trace);
  return out;
}

std::optional<Event> decode_envelope(std::string_view in) {
  Event event;
  std::size_t pos = 0;
  while (pos < in.size()) {
    const auto key = get_varint(in, pos);
    if (!key) return std::nullopt;
    const auto field = *key >> 3;
    const auto wire = *key & 7;
    if (field == 3 && wire == 0) {
      const auto v = get_varint(in, pos);
      if (!v) return std::nullopt;
      event.type = static_cast<int>(static_cast<std::int32_t>(*v));
    } else if (field == 4 && wire == 2) {
      const auto ts = get_bytes(in, pos);
      if (!ts) return std::nullopt;
      std::int64_t secs = 0;
      std::int64_t nanos = 0;
      std::size_t p = 0;
      while (p < ts->size()) {
        const auto k = get_varint(*ts, p);
        if (!k) return std::nullopt;
        if ((*k >> 3) == 1 && (*k & 7) == 0) {
          const auto v = get_varint(*ts, p);
          if (!v) return std::nullopt;
          secs = static_cast<std::int64_t>(*v);
        } else if ((*k >> 3) == 2 && (*k & 7) == 0) {
          const auto v = get_varint(*ts, p);
          if (!v) return std::nullopt;
          nanos = static_cast<std::int32_t>(*v);
        } else if (!skip(*ts, p, *k & 7)) {
          return std::nullopt;
        }
      }
      // Beyond ±292 years from 1970 nanoseconds overflow: such an envelope is not ours.
      if (secs > INT64_MAX / 1'000'000'000 - 1 || secs < INT64_MIN / 1'000'000'000 + 1) {
        return std::nullopt;
      }
      event.timestamp = from_unix_nanos(secs * 1'000'000'000 + nanos);
    } else if (field >= 5 && field <= 8 && wire == 2) {
      const auto bytes = get_bytes(in, pos);
      if (!bytes) return std::nullopt;
      std::string& target = field == 5   ? event.foreign_id
                            : field == 6 ? event.id
                            : field == 7 ? event.metadata
                                         : event.trace;
      target.assign(*bytes);
    } else if (!skip(in, pos, wire)) {
      return std::nullopt;
    }
  }
  return event;
}

}  // namespace reflex::rnats::detail
