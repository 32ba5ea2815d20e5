#include "codec.hpp"

#include <climits>
#include <cstdlib>

#include "reflex/errors.hpp"
#include "status.hpp"

namespace reflex::rnats::detail {

namespace {

constexpr char kHex[] = "0123456789ABCDEF";

bool plain(unsigned char c) {
  return c > 0x20 && c < 0x7f && c != '%';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void set_header(natsMsg* msg, const char* name, const std::string& value) {
  check(natsMsgHeader_Set(msg, name, value.c_str()),
        std::string("set header ") + name + " of a NATS message");
}

}  // namespace

std::string encode_header_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (plain(c)) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::string decode_header_value(std::string_view value) {
  if (value.find('%') == std::string_view::npos) return std::string(value);
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '%' && i + 2 < value.size()) {
      const int hi = hex_value(value[i + 1]);
      const int lo = hex_value(value[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += value[i];
  }
  return out;
}

std::chrono::system_clock::time_point from_unix_nanos(std::int64_t nanos) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(nanos)));
}

std::int64_t to_unix_nanos(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

MsgPtr event_message(const std::string& subject, const Event& event, const char* reply) {
  natsMsg* raw = nullptr;
  check(natsMsg_Create(&raw, subject.c_str(), reply, event.metadata.data(),
                       static_cast<int>(event.metadata.size())),
        "create a NATS message on subject \"" + subject + "\"");
  MsgPtr msg(raw);
  set_header(msg.get(), header::type, std::to_string(event.type));
  if (!event.foreign_id.empty()) {
    set_header(msg.get(), header::foreign_id, encode_header_value(event.foreign_id));
  }
  if (event.timestamp != std::chrono::system_clock::time_point{}) {
    set_header(msg.get(), header::timestamp, std::to_string(to_unix_nanos(event.timestamp)));
  }
  if (!event.trace.empty()) set_header(msg.get(), header::trace, encode_header_value(event.trace));
  if (!event.id.empty()) set_header(msg.get(), header::source_id, encode_header_value(event.id));
  return msg;
}

std::string header_value(natsMsg* msg, const char* name) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, name, &value) != NATS_OK || value == nullptr) return {};
  return value;
}

Event message_event(natsMsg* msg, std::uint64_t sequence,
                    std::chrono::system_clock::time_point stored) {
  Event event;
  event.id = std::to_string(sequence);
  const char* data = natsMsg_GetData(msg);
  const int size = natsMsg_GetDataLength(msg);
  if (data != nullptr && size > 0) event.metadata.assign(data, static_cast<std::size_t>(size));
  if (const auto type = parse_int64(header_value(msg, header::type));
      type && *type >= INT32_MIN && *type <= INT32_MAX) {
    event.type = static_cast<int>(*type);
  }
  event.foreign_id = decode_header_value(header_value(msg, header::foreign_id));
  event.trace = decode_header_value(header_value(msg, header::trace));
  const auto nanos = parse_int64(header_value(msg, header::timestamp));
  event.timestamp = nanos ? from_unix_nanos(*nanos) : stored;
  return event;
}

Headers read_headers(natsMsg* msg) {
  Headers headers;
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &count) != NATS_OK || keys == nullptr) return headers;
  for (int i = 0; i < count; ++i) headers.emplace(keys[i], header_value(msg, keys[i]));
  free(const_cast<char**>(keys));
  return headers;
}

void write_headers(natsMsg* msg, const Headers& headers) {
  for (const auto& [name, value] : headers) {
    if (name.empty() || name.find_first_of(": \r\n") != std::string::npos) {
      throw ConfigError("header name \"" + name +
                        "\" is invalid: it must be non-empty without ':', spaces or line breaks");
    }
    if (value.find_first_of("\r\n") != std::string::npos) {
      throw ConfigError("header \"" + name + "\" has a line break in its value; encode it");
    }
    set_header(msg, name.c_str(), value);
  }
}

}  // namespace reflex::rnats::detail
