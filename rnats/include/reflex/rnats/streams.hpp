#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/event.hpp"
#include "reflex/rnats/codec.hpp"
#include "reflex/rnats/connection.hpp"
#include "reflex/rnats/export.hpp"

// windshift's event model as a C++ API: streams with retention and limits, publishing with
// idempotency and optimistic concurrency, durable and ephemeral consumers whose events are
// acknowledged, rejected (now, later, permanently) or pinged.

namespace reflex::rnats {

/// Where a stream keeps its messages.
enum class Storage { file, memory };

/// What a full stream does with a new message.
enum class Discard {
  /// Remove the oldest messages to make room (JetStream's default).
  old_messages,
  /// Refuse the new message.
  new_messages,
};

/// A stream's declared configuration; ensure_stream creates or updates the stream to match it.
/// Zero limits mean "unlimited" (the server's defaults).
struct StreamConfig {
  std::string name{};
  std::string description{};
  /// Subjects bound to the stream (wildcards allowed). A subject can belong to one stream only.
  /// Empty: the stream's name is its only subject.
  std::vector<std::string> subjects{};
  std::chrono::milliseconds max_age{};
  std::int64_t max_events = 0;
  std::int64_t max_events_per_subject = 0;
  std::int64_t max_bytes = 0;
  /// Largest accepted message (payload and headers) in bytes.
  std::int32_t max_event_size = 0;
  Discard discard = Discard::old_messages;
  Storage storage = Storage::file;
  /// Copies kept in a JetStream cluster (1..5); a single server supports 1.
  int replicas = 1;
  /// How long the server remembers idempotency keys (Nats-Msg-Id); zero: server default (2 min).
  std::chrono::milliseconds duplicate_window{};
};

/// A stream's state.
struct StreamInfo {
  std::string name{};
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  /// Sequence of the first retained message (last + 1 when empty).
  std::uint64_t first_sequence = 0;
  /// Sequence of the last message ever stored (0 when nothing was ever stored).
  std::uint64_t last_sequence = 0;
  std::int64_t consumers = 0;
};

/// Creates the stream, or updates it when it exists and differs. Throws ConfigError-derived
/// errors with the server's reason when the change is not allowed (e.g. changing storage).
REFLEX_RNATS_EXPORT StreamInfo ensure_stream(const Connection& connection,
                                             const StreamConfig& config);
/// The stream's state, or nullopt when there is no such stream.
[[nodiscard]] REFLEX_RNATS_EXPORT std::optional<StreamInfo> stream_info(
    const Connection& connection, std::string_view name);
/// Deletes the stream with every message and consumer. Returns false when it did not exist.
REFLEX_RNATS_EXPORT bool delete_stream(const Connection& connection, std::string_view name);

/// One event to publish (windshift's OutgoingEvent).
struct OutgoingEvent {
  std::string subject{};
  std::string data{};
  Headers headers{};
  /// Nats-Msg-Id: the server drops a message whose key it saw within the duplicate window and
  /// answers with the original's sequence (PublishResult::duplicate).
  std::string idempotency_key{};
  /// Optimistic concurrency: publish only if the stream's last sequence is this (it must be
  /// positive: JetStream cannot check for an empty stream this way). RevisionConflict otherwise.
  std::optional<std::uint64_t> expected_last_sequence{};
  /// Publish only if the last message on this subject has this sequence; 0 means the subject
  /// must have no message yet. RevisionConflict otherwise.
  std::optional<std::uint64_t> expected_last_subject_sequence{};
  /// When the event happened; sent as header::timestamp (Unix nanoseconds).
  std::optional<std::chrono::system_clock::time_point> timestamp{};
  /// How long to wait for the server's acknowledgement; zero: the connection's request timeout.
  std::chrono::milliseconds timeout{};
};

/// Where a published event was stored.
struct PublishResult {
  std::string stream{};
  std::uint64_t sequence = 0;
  /// The idempotency key was seen before; `sequence` is the original's.
  bool duplicate = false;
};

/// Publishes and waits for JetStream's acknowledgement. Throws NoStreamForSubject when no stream
/// is bound to the subject, RevisionConflict when an expectation fails, Unavailable when the
/// server cannot be reached in time.
REFLEX_RNATS_EXPORT PublishResult publish(const Connection& connection, const OutgoingEvent& event);

/// The message the relay would publish for `event` on `subject`: metadata as data and the
/// event's fields as headers (see codec.hpp). The idempotency key is left for the caller.
[[nodiscard]] REFLEX_RNATS_EXPORT OutgoingEvent event_message(std::string subject,
                                                              const Event& event);

/// Where a new consumer starts in its stream.
struct REFLEX_RNATS_EXPORT ConsumeFrom {
  enum class Kind { beginning, end, time, sequence };
  Kind kind = Kind::beginning;
  std::chrono::system_clock::time_point time{};
  std::uint64_t sequence = 0;

  /// Every retained event.
  [[nodiscard]] static ConsumeFrom beginning() { return {}; }
  /// Only events published after the consumer was created.
  [[nodiscard]] static ConsumeFrom end() { return {.kind = Kind::end}; }
  /// Events stored at or after `t`.
  [[nodiscard]] static ConsumeFrom at(std::chrono::system_clock::time_point t) {
    return {.kind = Kind::time, .time = t};
  }
  /// Events from stream sequence `seq` on.
  [[nodiscard]] static ConsumeFrom at_sequence(std::uint64_t seq) {
    return {.kind = Kind::sequence, .sequence = seq};
  }
};

/// A consumer's declared configuration; ensure_consumer creates or updates it.
struct ConsumerConfig {
  std::string stream{};
  /// Durable consumer name (letters, digits, '-', '_'): it keeps its position across restarts
  /// and its subscribers share the work. Empty: an ephemeral consumer, removed by the server once
  /// it has had no subscriber for `inactive_threshold`.
  std::string name{};
  std::string description{};
  /// Only events on this subject (wildcards allowed); "" for all of the stream's subjects.
  std::string filter_subject{};
  /// How long a subscriber has to ack, reject or ping an event before it is delivered again.
  std::chrono::milliseconds processing_timeout{std::chrono::seconds(30)};
  ConsumeFrom from{};
  /// Deliveries of one event before the server gives up on it; 0 = unlimited.
  int max_delivery_attempts = 0;
  /// Events delivered and not yet acknowledged, across all subscribers; beyond it the server
  /// waits. Bounds memory and redelivery storms.
  int max_pending = 256;
  /// Ephemeral consumers only; zero: the server's default (5 s).
  std::chrono::milliseconds inactive_threshold{};
};

/// A consumer's identity and progress.
struct ConsumerInfo {
  std::string stream{};
  /// The durable name, or the server-assigned name of an ephemeral consumer (subscribe with it).
  std::string name{};
  bool durable = false;
  /// Events not yet delivered.
  std::uint64_t pending = 0;
  /// Events delivered and not yet acknowledged.
  std::int64_t ack_pending = 0;
  std::int64_t redelivered = 0;
};

/// Creates the consumer or updates the durable consumer of that name. Consumers are push
/// consumers; a durable one delivers to a queue group so that every subscriber gets a share.
REFLEX_RNATS_EXPORT ConsumerInfo ensure_consumer(const Connection& connection,
                                                 const ConsumerConfig& config);
/// The consumer's state, or nullopt when it does not exist.
[[nodiscard]] REFLEX_RNATS_EXPORT std::optional<ConsumerInfo> consumer_info(
    const Connection& connection, std::string_view stream, std::string_view name);
/// Deletes a consumer. Returns false when it did not exist.
REFLEX_RNATS_EXPORT bool delete_consumer(const Connection& connection, std::string_view stream,
                                         std::string_view name);

/// How to reject an event (windshift's Reject options).
struct RejectOptions {
  /// Deliver again after this delay; zero: as soon as possible.
  std::chrono::milliseconds delay{};
  /// Never deliver this event again (JetStream "term").
  bool permanently = false;
};

namespace detail {
struct Access;
struct DeliveryState;
struct SubscriptionState;
}  // namespace detail

/// One delivery of an event to a subscriber. Finish it with exactly one ack() or reject();
/// ping() before the processing timeout to keep it. An unfinished delivery is redelivered after
/// the consumer's processing timeout.
///
/// Thread-safety: ack, reject and ping may be called from any thread (also while an automatic
/// ping runs). Lifetime: movable value; keeps its subscription's resources alive.
class REFLEX_RNATS_EXPORT Delivery final {
 public:
  [[nodiscard]] const std::string& subject() const noexcept;
  [[nodiscard]] const std::string& data() const noexcept;
  [[nodiscard]] const Headers& headers() const noexcept;
  /// The event's stream sequence.
  [[nodiscard]] std::uint64_t sequence() const noexcept;
  /// 1 on first delivery, 2 on the first redelivery, ...
  [[nodiscard]] std::uint64_t attempt() const noexcept;
  /// When JetStream stored the event.
  [[nodiscard]] std::chrono::system_clock::time_point stored() const noexcept;
  /// The reflex event it carries (see codec.hpp); its id is the stream sequence.
  [[nodiscard]] Event event() const;

  /// The event was processed: it is not delivered again. Waits for the server's confirmation
  /// (throws Unavailable when it does not come).
  void ack();
  /// The event was not processed; see RejectOptions.
  void reject(const RejectOptions& options = {});
  /// Still working on it: restarts the processing timeout.
  void ping();
  /// True once ack() or reject() succeeded.
  [[nodiscard]] bool finished() const;

 private:
  friend struct detail::Access;
  explicit Delivery(std::shared_ptr<detail::DeliveryState> state);
  std::shared_ptr<detail::DeliveryState> state_;
};

/// Options of a Subscription.
struct SubscribeOptions {
  /// Ping every unfinished delivery at this interval (keep it below the consumer's processing
  /// timeout); zero disables automatic pinging.
  std::chrono::milliseconds auto_ping{};
};

/// Receives a consumer's events. Several subscriptions to one durable consumer (in one process or
/// many) share its events; each event goes to one of them at a time. Deliveries are handed over
/// by next() on the caller's thread. After a connection loss or server restart the subscription
/// continues by itself.
///
/// Thread-safety: next() from one thread at a time; deliveries may be finished anywhere.
/// Lifetime: destroying it stops deliveries to it (unfinished ones are redelivered after the
/// processing timeout); the consumer itself stays.
class REFLEX_RNATS_EXPORT Subscription final {
 public:
  /// Subscribes to an existing consumer (see ensure_consumer). Throws NotFound when it is missing.
  Subscription(const Connection& connection, std::string_view stream, std::string_view consumer,
               const SubscribeOptions& options = {});
  ~Subscription();
  Subscription(Subscription&&) noexcept;
  Subscription& operator=(Subscription&&) noexcept;

  /// The next delivery; waits until one arrives or stop is requested (then nullopt). Throws
  /// Unavailable when the subscription was closed underneath (connection closed).
  [[nodiscard]] std::optional<Delivery> next(std::stop_token stop);
  /// As next(stop), giving up with nullopt after `timeout`.
  [[nodiscard]] std::optional<Delivery> next(std::stop_token stop,
                                             std::chrono::milliseconds timeout);

 private:
  std::shared_ptr<detail::SubscriptionState> state_;
};

}  // namespace reflex::rnats
