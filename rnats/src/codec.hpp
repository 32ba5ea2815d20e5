#pragma once

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "handles.hpp"
#include "message_builder.hpp"
#include "reflex/event.hpp"
#include "reflex/rnats/codec.hpp"
#include "reflex/rnats/streams.hpp"

// The one mapping between reflex::Event and a NATS message (see reflex/rnats/codec.hpp):
// rnats::event_message (codec.cpp) turns an event into an OutgoingEvent, message() turns any
// OutgoingEvent into the message that is sent, and message_event reads an event back.

namespace reflex::rnats::detail {

/// Percent-encodes what a header value cannot carry verbatim: every byte outside printable ASCII
/// 0x21-0x7E (controls, space, non-ASCII) and '%' itself become %XX, upper-case.
[[nodiscard]] std::string encode_header_value(std::string_view value);
/// The inverse of encode_header_value. A value with a malformed escape (a foreign publisher's
/// literal '%') is kept as it is.
[[nodiscard]] std::string decode_header_value(std::string_view value);

/// Writes the headers of `event` (checked: ConfigError naming a bad one) and header::timestamp
/// when it has a timestamp, except those named in `skip`: headers the caller writes itself
/// (an idempotency key, expectations), which take their place as natsMsgHeader_Set would.
void append_headers(MessageBuilder& builder, const OutgoingEvent& event,
                    std::initializer_list<std::string_view> skip = {});
/// Writes the headers rnats::event_message(subject, event) gives `event` (the reflex format)
/// without making the OutgoingEvent.
void append_event_headers(MessageBuilder& builder, const Event& event);

/// The message `event` is sent as: its data as payload, its headers (append_headers); answered
/// on `reply` if given. The idempotency key and expectations are the sender's.
[[nodiscard]] MsgPtr message(const OutgoingEvent& event, const char* reply = nullptr);

/// message(rnats::event_message(subject, event), reply), written directly.
[[nodiscard]] MsgPtr event_message(const std::string& subject, const Event& event,
                                   const char* reply = nullptr);

/// The event carried by a JetStream message whose stream sequence is `sequence`, in either wire
/// format. The id is the sequence; the timestamp is the header's (Reflex-Timestamp, else
/// WS-Published-Time), else `stored` (the time JetStream stored it). A windshift message holding
/// a kEventEnvelopeType envelope is that event; any other is an event of type 0 whose metadata is
/// the payload (the Any's value).
[[nodiscard]] Event message_event(natsMsg* msg, std::uint64_t sequence,
                                  std::chrono::system_clock::time_point stored);

/// Every header of `msg` (the first value of each name).
[[nodiscard]] Headers read_headers(natsMsg* msg);
/// The value of header `name`, or "" when absent.
[[nodiscard]] std::string header_value(natsMsg* msg, const char* name);

/// The event as windshift reads it (Delivery::windshift_event).
[[nodiscard]] WindshiftEvent windshift_event(natsMsg* msg, std::uint64_t sequence,
                                             std::chrono::system_clock::time_point stored);

/// `t` as Go's time.RFC3339Nano writes it in UTC ("2024-05-01T12:00:00.5Z": trailing zeros of
/// the fraction dropped). Throws ConfigError outside years 0001..9999.
[[nodiscard]] std::string format_rfc3339(std::chrono::system_clock::time_point t);
/// RFC 3339 text ("Z" or a numeric offset, up to 9 fraction digits), or nullopt.
[[nodiscard]] std::optional<std::chrono::system_clock::time_point> parse_rfc3339(
    std::string_view text);
/// True for a W3C traceparent: "00-<32 hex>-<16 hex>-<2 hex>" (lower-case hex).
[[nodiscard]] bool is_traceparent(std::string_view text);

/// `event` encoded as reflex.proto's reflexpb.Event (the kEventEnvelopeType envelope), and back
/// (nullopt for bytes that are no such message).
[[nodiscard]] std::string encode_envelope(const Event& event);
[[nodiscard]] std::optional<Event> decode_envelope(std::string_view bytes);

/// Nanoseconds since the Unix epoch as a time point, and back.
[[nodiscard]] std::chrono::system_clock::time_point from_unix_nanos(std::int64_t nanos);
[[nodiscard]] std::int64_t to_unix_nanos(std::chrono::system_clock::time_point t);

}  // namespace reflex::rnats::detail
