#include "codec.hpp"

#include <climits>
#include <cstdlib>

#include "reflex/encoding.hpp"
#include "reflex/errors.hpp"
#include "status.hpp"

namespace reflex::rnats {

namespace {

/// Printable ASCII punctuation but '%' (letters and digits are always kept): header values keep
/// the bytes 0x21-0x7E as they are, so the wire format is what it has always been.
constexpr std::string_view kHeaderKeep = "!\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~";

}  // namespace

OutgoingEvent event_message(std::string subject, const Event& event) {
  OutgoingEvent out;
  out.subject = std::move(subject);
  out.data = event.metadata;
  out.headers[header::type] = std::to_string(event.type);
  if (!event.foreign_id.empty()) {
    out.headers[header::foreign_id] = detail::encode_header_value(event.foreign_id);
  }
  if (!event.trace.empty()) out.headers[header::trace] = detail::encode_header_value(event.trace);
  if (!event.id.empty()) out.headers[header::source_id] = detail::encode_header_value(event.id);
  if (event.timestamp != std::chrono::system_clock::time_point{}) out.timestamp = event.timestamp;
  return out;
}

namespace detail {

std::string encode_header_value(std::string_view value) {
  return percent_encode(value, kHeaderKeep);
}

std::string decode_header_value(std::string_view value) {
  auto decoded = try_percent_decode(value);
  return decoded ? std::move(*decoded) : std::string(value);
}

std::chrono::system_clock::time_point from_unix_nanos(std::int64_t nanos) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(nanos)));
}

std::int64_t to_unix_nanos(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

MsgPtr message(const OutgoingEvent& event, const char* reply) {
  natsMsg* raw = nullptr;
  check(natsMsg_Create(&raw, event.subject.c_str(), reply, event.data.data(),
                       static_cast<int>(event.data.size())),
        "create a NATS message on subject \"" + event.subject + "\"");
  MsgPtr msg(raw);
  for (const auto& [name, value] : event.headers) {
    if (name.empty() || name.find_first_of(": \r\n") != std::string::npos) {
      throw ConfigError("header name \"" + name +
                        "\" is invalid: it must be non-empty without ':', spaces or line breaks");
    }
    if (value.find_first_of("\r\n") != std::string::npos) {
      throw ConfigError("header \"" + name + "\" has a line break in its value; encode it");
    }
    check(natsMsgHeader_Set(msg.get(), name.c_str(), value.c_str()),
          "set header " + name + " of a NATS message");
  }
  if (event.timestamp) {
    check(natsMsgHeader_Set(msg.get(), header::timestamp,
                            std::to_string(to_unix_nanos(*event.timestamp)).c_str()),
          "set the timestamp header of a NATS message");
  }
  return msg;
}

MsgPtr event_message(const std::string& subject, const Event& event, const char* reply) {
  return message(rnats::event_message(subject, event), reply);
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

}  // namespace detail

}  // namespace reflex::rnats
