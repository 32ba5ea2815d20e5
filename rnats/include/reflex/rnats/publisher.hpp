#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>

#include "reflex/rnats/connection.hpp"
#include "reflex/rnats/export.hpp"
#include "reflex/rnats/streams.hpp"

namespace reflex::rnats {

namespace detail {
struct PublisherState;
}  // namespace detail

/// Options of an AsyncPublisher.
struct AsyncPublisherOptions {
  /// Publishes waiting for JetStream's acknowledgement at once (nats.go's and windshift's
  /// PublishAsyncMaxPending); publish() beyond it waits for a free slot, at most until the
  /// event's timeout.
  std::size_t max_pending = 256;
};

/// How an asynchronous publish ended: `result` when `error` is null, else the error publish()
/// would have thrown (NoStreamForSubject, RevisionConflict, Unavailable for a timeout or a lost
/// connection, ConfigError for a refused message, JetStreamError).
struct PublishOutcome {
  PublishResult result{};
  std::exception_ptr error{};
};

/// Publishes to JetStream without waiting: many publishes are in flight on one connection and each
/// one's acknowledgement (or failure) is handed to its callback. The same messages, idempotency
/// keys and expectations as publish(); what publish() does for one caller at a time, this does
/// for many (a server answering many clients, each waiting for its own acknowledgement).
///
/// Every publish ends exactly once: with JetStream's answer, or Unavailable when none came within
/// the event's timeout (the connection's request timeout when zero), or when the publisher is
/// destroyed. The message may still have been stored then (as with publish()): use an idempotency
/// key to publish it again safely.
///
/// Thread-safety: publish() from any thread. Callbacks run on the publisher's acknowledgement
/// thread (or its timer thread for timeouts), one at a time per thread, never inside publish();
/// they must not block: a slow callback delays every later acknowledgement.
/// Lifetime: the destructor ends the publishes still in flight (Unavailable) and returns once no
/// callback runs any more.
class REFLEX_RNATS_EXPORT AsyncPublisher final {
 public:
  using Callback = std::function<void(PublishOutcome)>;

  explicit AsyncPublisher(const Connection& connection, AsyncPublisherOptions options = {});
  ~AsyncPublisher();
  AsyncPublisher(const AsyncPublisher&) = delete;
  AsyncPublisher& operator=(const AsyncPublisher&) = delete;

  /// Sends `event`; `done` is called once with the outcome. Throws (and does not call `done`)
  /// ConfigError for an event that cannot be sent (see publish()) and Unavailable when the
  /// connection refuses it or no slot frees up within the event's timeout.
  void publish(const OutgoingEvent& event, Callback done);

  /// Publishes sent and not yet ended.
  [[nodiscard]] std::size_t pending() const;

 private:
  std::shared_ptr<detail::PublisherState> state_;
};

}  // namespace reflex::rnats
