#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "reflex/rnats/connection.hpp"
#include "reflex/rnats/streams.hpp"
#include "reflex/rwindshift/export.hpp"

namespace grpc {
class Service;
}  // namespace grpc

namespace reflex::rwindshift {

namespace detail {
class EventsServiceImpl;
}  // namespace detail

/// How an EventsService behaves where windshift's API leaves it to the server.
struct EventsServiceOptions {
  /// Publishes waiting for JetStream's acknowledgement at once (windshift's
  /// NATS_PUBLISH_ASYNC_MAX_PENDING); a PublishEvent beyond it waits for a free slot.
  std::size_t publish_async_max_pending = 256;
  /// How long PublishEvent waits for JetStream's acknowledgement (DEADLINE_EXCEEDED "publish timed
  /// out" after it); zero: the connection's request timeout. A client deadline shortens it.
  std::chrono::milliseconds publish_timeout{};
  /// Events handed to one Events stream and not yet acked, rejected or past their processing
  /// timeout, when its Subscribe names no max_processing_events (windshift's default is 50).
  std::size_t default_processing_events = 50;
  /// Upper bound on a Subscribe's max_processing_events (bounds memory per stream).
  std::size_t max_processing_events = 10000;
  /// Open Events streams at most; one more is refused with RESOURCE_EXHAUSTED. Each stream holds
  /// one thread of its own while it is open (it waits in JetStream's pull), so this bounds threads.
  std::size_t max_event_streams = 1024;
  /// Dead letters of every Events subscription: events rejected permanently (and, with
  /// max_deliveries, events delivered that often) are copied to "<stream>-dead-letters" before
  /// they leave their stream (see rnats::DeadLetterOptions); nullopt: windshift's behaviour
  /// (a permanent reject drops the event). The dead-letter stream is an ordinary stream: ensure a
  /// consumer on it, subscribe, and publish a dead letter again to replay it.
  std::optional<rnats::DeadLetterOptions> dead_letters = rnats::DeadLetterOptions{};
  /// How long an ephemeral consumer outlives its last subscriber (windshift: one hour).
  std::chrono::milliseconds ephemeral_inactive_threshold{std::chrono::hours(1)};
  /// How long a durable consumer outlives its last subscriber (windshift: 30 days).
  std::chrono::milliseconds durable_inactive_threshold{std::chrono::hours(24 * 30)};
};

/// windshift.events.v1alpha1.EventsService on JetStream: EnsureStream, EnsureConsumer,
/// DeleteConsumer, PublishEvent and the Events stream, with windshift-server's validation, status
/// codes and NATS wire format (headers WS-Published-Time, WS-Data-Type, Nats-Msg-Id,
/// WS-Trace-Parent, WS-Trace-State; the Any's value as payload), so windshift clients and
/// windshift-go programs share its streams. EnsureStream, EnsureConsumer and DeleteConsumer run on
/// the gRPC server's threads; PublishEvent holds no thread while JetStream answers (an
/// rnats::AsyncPublisher on the connection finishes it); each Events stream is a callback reactor
/// with one thread of its own that waits for JetStream.
///
/// Thread-safety: every member may be called from any thread. Lifetime: must outlive the
/// grpc::Server it is registered with (stop that server first, or call shutdown() before
/// destroying both); the connection is shared, not owned.
class REFLEX_RWINDSHIFT_EXPORT EventsService final {
 public:
  static constexpr std::string_view name = "windshift.events.v1alpha1.EventsService";

  explicit EventsService(rnats::Connection nats, EventsServiceOptions options = {});
  ~EventsService();
  EventsService(const EventsService&) = delete;
  EventsService& operator=(const EventsService&) = delete;

  /// The service to register with grpc::ServerBuilder::RegisterService (or
  /// rgrpc::ServerOptions::services).
  [[nodiscard]] grpc::Service* service() noexcept;

  /// Drains: every open Events stream ends with UNAVAILABLE "server shutting down" and new ones
  /// are refused the same way; events handed out and not acked are rejected, so the consumer
  /// delivers them again (to another subscriber). Unary calls keep working. Idempotent.
  void shutdown();

 private:
  std::unique_ptr<detail::EventsServiceImpl> impl_;
};

}  // namespace reflex::rwindshift
