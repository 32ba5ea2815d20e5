#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "reflex/event.hpp"

namespace reflex::rnats {

/// Headers of a NATS message, one value per name (names are case-sensitive).
using Headers = std::map<std::string, std::string, std::less<>>;

/// How a reflex::Event travels in a JetStream message: the payload is the event's metadata and
/// these headers carry the rest. Text values are percent-encoded where they hold bytes outside
/// printable ASCII, a space or '%' (as %XX, upper-case), so any id or trace survives the header
/// format; a value with a '%' that starts no valid escape (from a publisher that does not encode)
/// is read as it is. The relay and event_message write them; the JetStream source and
/// Delivery::event() read them.
namespace header {
/// Event type, decimal.
inline constexpr const char* type = "Reflex-Type";
/// The foreign id (the entity that changed).
inline constexpr const char* foreign_id = "Reflex-Foreign-Id";
/// When the event happened at its source: Unix time in nanoseconds, decimal.
inline constexpr const char* timestamp = "Reflex-Timestamp";
/// Trace context of the transaction that produced the event.
inline constexpr const char* trace = "Reflex-Trace";
/// The event's id at its source (e.g. the outbox row id); a JetStream source's ids are stream
/// sequences instead.
inline constexpr const char* source_id = "Reflex-Source-Id";
/// JetStream's idempotency key: the server drops a message whose id it saw within the stream's
/// duplicate window.
inline constexpr const char* msg_id = "Nats-Msg-Id";

/// A dead letter's failure (see DeadLetterOptions in streams.hpp): the stream, subject and stream
/// sequence it came from, the consumer it failed in, why, after how many deliveries, when (RFC
/// 3339, UTC), and its own Nats-Msg-Id (the dead letter carries one of its own).
inline constexpr const char* dead_letter_stream = "Reflex-Dead-Letter-Stream";
inline constexpr const char* dead_letter_subject = "Reflex-Dead-Letter-Subject";
inline constexpr const char* dead_letter_sequence = "Reflex-Dead-Letter-Sequence";
inline constexpr const char* dead_letter_consumer = "Reflex-Dead-Letter-Consumer";
inline constexpr const char* dead_letter_reason = "Reflex-Dead-Letter-Reason";
inline constexpr const char* dead_letter_attempts = "Reflex-Dead-Letter-Attempts";
inline constexpr const char* dead_letter_time = "Reflex-Dead-Letter-Time";
inline constexpr const char* dead_letter_msg_id = "Reflex-Dead-Letter-Msg-Id";
}  // namespace header

/// windshift's NATS message format (windshift-server, windshift-go): the payload is the value of
/// a google.protobuf.Any and these headers carry the rest; Nats-Msg-Id is the idempotency key.
namespace windshift_header {
/// When the event happened: RFC 3339 with nanoseconds (Go's time.RFC3339Nano), e.g.
/// "2024-05-01T12:00:00.5Z".
inline constexpr const char* published_time = "WS-Published-Time";
/// The Any's message name (its type URL after the last '/'), e.g. "acme.orders.v1.Created".
inline constexpr const char* data_type = "WS-Data-Type";
/// W3C trace context of the publisher.
inline constexpr const char* trace_parent = "WS-Trace-Parent";
inline constexpr const char* trace_state = "WS-Trace-State";
}  // namespace windshift_header

/// How reflex events are written to JetStream (the relay, event_message).
enum class WireFormat {
  /// Payload: the metadata; the other fields in the header:: headers above.
  reflex,
  /// windshift's format, so windshift-go programs and windshift services (reflex::rwindshift)
  /// consume the events: see WindshiftOptions.
  windshift,
};

/// The message name of the envelope WireFormat::windshift uses by default: the Any's value is the
/// event encoded as reflex.proto's `reflexpb.Event` (type, timestamp, foreign_id, id, metadata,
/// trace), so a windshift client unpacks it with code generated from reflex.proto.
inline constexpr const char* kEventEnvelopeType = "reflexpb.Event";

/// How a reflex::Event becomes a windshift event (WireFormat::windshift):
/// - WS-Published-Time: the event's timestamp (the time of writing when it has none);
/// - WS-Trace-Parent: the event's trace when it is a W3C traceparent ("00-<32 hex>-<16 hex>-<2
///   hex>"), else none;
/// - Nats-Msg-Id: as in the reflex format (the relay's "<name>:<event id>");
/// - the Any: by default a kEventEnvelopeType envelope of the whole event (no other headers); with
///   `data_type` set, its message name is data_type(event) and its value the metadata as it is
///   (for metadata that already is a serialized message of that type), and the reflex headers
///   (header::type, foreign_id, trace, source_id, timestamp) carry the rest.
/// Reading (the JetStream source, Delivery::event()) accepts both formats: an envelope is decoded,
/// WS-Published-Time is the timestamp when the reflex one is absent, and a windshift event of
/// another type becomes an event of type 0 whose metadata is the Any's value.
struct WindshiftOptions {
  std::function<std::string(const Event&)> data_type{};
};

/// An event in windshift's terms: what windshift-server's PublishEvent stores and its Events call
/// hands out.
struct WindshiftEvent {
  std::string subject{};
  /// The Any's message name (no "type.googleapis.com/" prefix).
  std::string data_type{};
  /// The Any's value.
  std::string data{};
  /// When it happened.
  std::chrono::system_clock::time_point published{};
  /// Nats-Msg-Id ("" for none).
  std::string idempotency_key{};
  std::string trace_parent{};
  std::string trace_state{};
};

}  // namespace reflex::rnats
