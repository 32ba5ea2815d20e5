#pragma once

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "handles.hpp"
#include "reflex/event.hpp"
#include "reflex/rnats/codec.hpp"

namespace reflex::rnats::detail {

/// Percent-encodes bytes that a header value cannot carry verbatim (controls, space, non-ASCII)
/// and '%' itself.
[[nodiscard]] std::string encode_header_value(std::string_view value);
/// The inverse of encode_header_value; malformed escapes are kept as they are.
[[nodiscard]] std::string decode_header_value(std::string_view value);

/// A message to `subject` (answered on `reply`, if given) with the event's metadata as payload and
/// its fields as headers (header::type, foreign_id, timestamp, trace, source_id).
[[nodiscard]] MsgPtr event_message(const std::string& subject, const Event& event,
                                   const char* reply = nullptr);

/// The event carried by a JetStream message whose stream sequence is `sequence`. The id is the
/// sequence; the timestamp is the header's, else `stored` (the time JetStream stored it).
[[nodiscard]] Event message_event(natsMsg* msg, std::uint64_t sequence,
                                  std::chrono::system_clock::time_point stored);

/// Every header of `msg` (the first value of each name).
[[nodiscard]] Headers read_headers(natsMsg* msg);
/// Sets every header of `headers` on `msg`; throws ConfigError naming a bad header.
void write_headers(natsMsg* msg, const Headers& headers);
/// The value of header `name`, or "" when absent.
[[nodiscard]] std::string header_value(natsMsg* msg, const char* name);

/// Nanoseconds since the Unix epoch as a time point, and back.
[[nodiscard]] std::chrono::system_clock::time_point from_unix_nanos(std::int64_t nanos);
[[nodiscard]] std::int64_t to_unix_nanos(std::chrono::system_clock::time_point t);

}  // namespace reflex::rnats::detail
