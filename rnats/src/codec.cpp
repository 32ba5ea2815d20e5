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

OutgoingEvent event_message(std::string subject, const Event& event, WireFormat format,
                            const WindshiftOptions& windshift) {
  if (format == WireFormat::reflex) return event_message(std::move(subject), event);
  const auto when = event.timestamp != std::chrono::system_clock::time_point{}
                        ? event.timestamp
                        : std::chrono::system_clock::now();
  OutgoingEvent out;
  if (windshift.data_type) {
    // The metadata is the Any's value; the reflex headers keep what windshift has no place for.
    out = event_message(std::move(subject), event);
    out.headers[windshift_header::data_type] = windshift.data_type(event);
  } else {
    out.subject = std::move(subject);
    out.data = detail::encode_envelope(event);
    out.headers[windshift_header::data_type] = kEventEnvelopeType;
  }
  out.headers[windshift_header::published_time] = detail::format_rfc3339(when);
  if (detail::is_traceparent(event.trace)) {
    out.headers[windshift_header::trace_parent] = event.trace;
  }
  return out;
}

OutgoingEvent windshift_message(const WindshiftEvent& event) {
  OutgoingEvent out;
  out.subject = event.subject;
  out.data = event.data;
  out.idempotency_key = event.idempotency_key;
  out.headers[windshift_header::published_time] = detail::format_rfc3339(event.published);
  out.headers[windshift_header::data_type] = event.data_type;
  if (!event.trace_parent.empty()) out.headers[windshift_header::trace_parent] = event.trace_parent;
  if (!event.trace_state.empty()) out.headers[windshift_header::trace_state] = event.trace_state;
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

void append_headers(MessageBuilder& builder, const OutgoingEvent& event,
                    std::initializer_list<std::string_view> skip) {
  const auto skipped = [&](std::string_view name) {
    if (event.timestamp && name == header::timestamp) return true;
    for (const auto s : skip)
      if (name == s) return true;
    return false;
  };
  for (const auto& [name, value] : event.headers) {
    if (name.empty() || name.find_first_of(": \r\n") != std::string::npos) {
      throw ConfigError("header name \"" + name +
                        "\" is invalid: it must be non-empty without ':', spaces or line breaks");
    }
    if (value.find_first_of("\r\n") != std::string::npos) {
      throw ConfigError("header \"" + name + "\" has a line break in its value; encode it");
    }
    if (!skipped(name)) builder.header(name, value);
  }
  if (event.timestamp) builder.number_header(header::timestamp, to_unix_nanos(*event.timestamp));
}

void append_event_headers(MessageBuilder& builder, const Event& event) {
  builder.number_header(header::type, event.type);
  if (!event.foreign_id.empty()) builder.encoded_header(header::foreign_id, event.foreign_id);
  if (!event.trace.empty()) builder.encoded_header(header::trace, event.trace);
  if (!event.id.empty()) builder.encoded_header(header::source_id, event.id);
  if (event.timestamp != std::chrono::system_clock::time_point{}) {
    builder.number_header(header::timestamp, to_unix_nanos(event.timestamp));
  }
}

MsgPtr message(const OutgoingEvent& event, const char* reply) {
  MessageBuilder builder;
  append_headers(builder, event);
  return builder.build(event.subject, reply != nullptr ? reply : "", event.data);
}

MsgPtr event_message(const std::string& subject, const Event& event, const char* reply) {
  MessageBuilder builder;
  append_event_headers(builder, event);
  return builder.build(subject, reply != nullptr ? reply : "", event.metadata);
}

std::string header_value(natsMsg* msg, const char* name) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, name, &value) != NATS_OK || value == nullptr) return {};
  return value;
}

namespace {

std::string_view payload(natsMsg* msg) {
  const char* data = natsMsg_GetData(msg);
  const int size = natsMsg_GetDataLength(msg);
  if (data == nullptr || size <= 0) return {};
  return {data, static_cast<std::size_t>(size)};
}

}  // namespace

Event message_event(natsMsg* msg, std::uint64_t sequence,
                    std::chrono::system_clock::time_point stored) {
  if (header_value(msg, windshift_header::data_type) == kEventEnvelopeType) {
    if (auto event = decode_envelope(payload(msg))) {
      event->id = std::to_string(sequence);
      if (event->timestamp == std::chrono::system_clock::time_point{}) event->timestamp = stored;
      return std::move(*event);
    }
  }
  Event event;
  event.id = std::to_string(sequence);
  event.metadata = payload(msg);
  if (const auto type = parse_int64(header_value(msg, header::type));
      type && *type >= INT32_MIN && *type <= INT32_MAX) {
    event.type = static_cast<int>(*type);
  }
  event.foreign_id = decode_header_value(header_value(msg, header::foreign_id));
  event.trace = decode_header_value(header_value(msg, header::trace));
  if (const auto nanos = parse_int64(header_value(msg, header::timestamp))) {
    event.timestamp = from_unix_nanos(*nanos);
  } else if (const auto published =
                 parse_rfc3339(header_value(msg, windshift_header::published_time))) {
    event.timestamp = *published;
  } else {
    event.timestamp = stored;
  }
  return event;
}

WindshiftEvent windshift_event(natsMsg* msg, std::uint64_t sequence,
                               std::chrono::system_clock::time_point stored) {
  WindshiftEvent out;
  out.subject = natsMsg_GetSubject(msg);
  out.data_type = header_value(msg, windshift_header::data_type);
  out.idempotency_key = header_value(msg, header::msg_id);
  out.trace_parent = header_value(msg, windshift_header::trace_parent);
  out.trace_state = header_value(msg, windshift_header::trace_state);
  const std::string reflex_type = header_value(msg, header::type);
  if (out.data_type.empty() && !reflex_type.empty()) {
    // A reflex-format message (e.g. from a relay without the windshift format): its whole event
    // travels as the envelope, named by its id at the source when it has one.
    Event event = message_event(msg, sequence, stored);
    if (const std::string source = header_value(msg, header::source_id); !source.empty()) {
      event.id = decode_header_value(source);
    }
    out.data_type = kEventEnvelopeType;
    out.data = encode_envelope(event);
    out.published = event.timestamp;
    if (out.trace_parent.empty() && is_traceparent(event.trace)) out.trace_parent = event.trace;
    return out;
  }
  out.data = payload(msg);
  if (const auto published = parse_rfc3339(header_value(msg, windshift_header::published_time))) {
    out.published = *published;
  } else if (const auto nanos = parse_int64(header_value(msg, header::timestamp))) {
    out.published = from_unix_nanos(*nanos);
  } else {
    out.published = stored;
  }
  if (out.trace_parent.empty()) {
    const std::string trace = decode_header_value(header_value(msg, header::trace));
    if (is_traceparent(trace)) out.trace_parent = trace;
  }
  return out;
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
