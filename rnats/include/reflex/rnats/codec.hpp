#pragma once

#include <functional>
#include <map>
#include <string>

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
}  // namespace header

}  // namespace reflex::rnats
