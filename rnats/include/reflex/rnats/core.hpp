#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "reflex/rnats/connection.hpp"
#include "reflex/rnats/export.hpp"

// NATS core publish / subscribe: no JetStream, nothing stored. A message reaches the subscribers
// whose interest the server holds when it arrives, or none; a queue group shares messages among
// its members (each message to one of them).

namespace reflex::rnats {

/// One message received on a core subscription.
struct CoreMessage {
  std::string subject{};
  std::string data{};
};

/// Publishes `data` on `subject` (tokens separated by '.', no wildcards). Returns once nats.c has
/// buffered it: core NATS does not acknowledge. Throws ConfigError for an invalid subject and
/// Unavailable when the connection is closed.
REFLEX_RNATS_EXPORT void publish_core(const Connection& connection, std::string_view subject,
                                      std::string_view data);

/// Options of CoreSubscription.
struct CoreSubscribeOptions {
  /// A queue group: subscribers of one subject with the same group share its messages, each
  /// message to one of them. Empty: every message to this subscriber.
  std::string queue_group{};
  /// Messages received and not yet taken by next(); beyond it nats.c holds further messages in
  /// its own pending buffer (65,536 messages or 64 MiB), and beyond that nats.c drops them for
  /// this subscriber (a slow consumer), as core NATS does: at most once, by design.
  std::size_t buffer = 1024;
};

namespace detail {
struct CoreSubscriptionState;
}  // namespace detail

/// A subscription to a subject (`*` one token, `>` the rest), taken from with next(). Messages
/// are handed from nats.c's delivery thread to the caller of next(), so no user code runs on a
/// nats.c thread.
///
/// Thread-safety: next() from one thread at a time; unsubscribe() and the destructor from any.
/// Lifetime: destroying it unsubscribes; it keeps the connection alive.
class REFLEX_RNATS_EXPORT CoreSubscription final {
 public:
  /// Subscribes and waits for the server to confirm (a flush), so that a message published by
  /// anyone after this returns reaches it. Throws ConfigError for an invalid subject or group,
  /// Unavailable when the server does not answer within the connection's request timeout.
  CoreSubscription(const Connection& connection, std::string_view subject,
                   const CoreSubscribeOptions& options = {});
  ~CoreSubscription();
  CoreSubscription(CoreSubscription&&) noexcept;
  CoreSubscription& operator=(CoreSubscription&&) noexcept;

  /// The next message: waits until one arrives, `stop` is requested or `timeout` passes
  /// (nullopt for both). Throws Unavailable once the subscription ended (connection closed).
  std::optional<CoreMessage> next(std::stop_token stop, std::chrono::milliseconds timeout);

  /// Ends the subscription now; next() then throws Unavailable. Idempotent.
  void unsubscribe();

 private:
  std::unique_ptr<detail::CoreSubscriptionState> state_;
};

}  // namespace reflex::rnats
