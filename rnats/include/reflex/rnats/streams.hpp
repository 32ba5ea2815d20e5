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

/// Where a new consumer (or a stream source) starts in its stream.
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

/// Another stream a stream copies events from: the one stream a mirror copies, or one of the
/// streams an aggregate collects. The server copies in the background (also when the source is
/// created later, or is unreachable for a while) and keeps each copied event's subject, headers
/// and data.
struct StreamSource {
  /// The stream to copy from.
  std::string name{};
  /// Where copying starts when the source is added: beginning (the default), end (events stored
  /// from then on), a time or a sequence. Applies once: ensure_stream keeps the position of a
  /// source the stream already has.
  ConsumeFrom from{};
  /// Only events on these subjects (wildcards allowed); empty: every event. nats-server 2.9 filters
  /// a source by one subject: several are accepted when one of them covers all the others (then
  /// it is the filter); otherwise ensure_stream throws ConfigError.
  std::vector<std::string> filter_subjects{};
};

/// A stream's declared configuration; ensure_stream creates or updates the stream to match it.
/// Zero limits mean "unlimited" (the server's defaults). A stream collects its events from its
/// subjects, or mirrors one other stream, or aggregates others (sources), or both subjects and
/// sources; a mirror has neither subjects nor sources.
struct StreamConfig {
  std::string name{};
  std::string description{};
  /// Subjects bound to the stream (wildcards allowed). A subject can belong to one stream only.
  /// Empty (and no mirror and no sources): the stream's name is its only subject.
  std::vector<std::string> subjects{};
  /// Copy every event of this stream (a read-only replica: nothing can be published to a
  /// mirror). Cannot be added, removed or changed once the stream exists.
  std::optional<StreamSource> mirror{};
  /// Copy the events of these streams (an aggregate), besides the stream's own subjects.
  std::vector<StreamSource> sources{};
  std::chrono::milliseconds max_age{};
  std::int64_t max_events = 0;
  std::int64_t max_events_per_subject = 0;
  std::int64_t max_bytes = 0;
  /// Largest accepted message (payload and headers) in bytes.
  std::int32_t max_event_size = 0;
  Discard discard = Discard::old_messages;
  /// With Discard::new_messages and max_events_per_subject: refuse a new event on a subject that
  /// holds max_events_per_subject events already (instead of counting the whole stream).
  bool discard_new_per_subject = false;
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
  /// In a JetStream cluster, the server that leads the stream (its `server_name`) and the
  /// servers that replicate it; empty on a single server.
  std::string leader{};
  std::vector<std::string> replicas{};
  /// The configuration the server holds (zero for the limits it reports as unlimited).
  StreamConfig config{};
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
/// As event_message(subject, event) in the given wire format (see WireFormat and
/// WindshiftOptions in codec.hpp).
[[nodiscard]] REFLEX_RNATS_EXPORT OutgoingEvent
event_message(std::string subject, const Event& event, WireFormat format,
              const WindshiftOptions& windshift = {});
/// The message windshift-server's PublishEvent stores for `event`: its data as payload,
/// WS-Published-Time, WS-Data-Type, WS-Trace-Parent and WS-Trace-State (when not empty), and
/// the idempotency key as Nats-Msg-Id. Throws ConfigError for a published time outside years
/// 0001..9999.
[[nodiscard]] REFLEX_RNATS_EXPORT OutgoingEvent windshift_message(const WindshiftEvent& event);

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
  /// Only events on any of these subjects (instead of filter_subject). nats-server 2.9 filters a
  /// consumer by one subject (several need 2.10), so: when one of them covers all the others it
  /// is the server's filter; otherwise the server filters by the narrowest subject covering them
  /// all (or not at all) and Subscription filters the rest: an event on none of the subjects is
  /// acknowledged for this consumer without being handed out. The subjects are kept in the
  /// consumer's description (at its end: "[reflex-filter-subjects: a.b c.d]", read by every
  /// Subscription, so subscribers in other processes filter alike); ConsumerInfo::config shows
  /// them here again and `description` without them.
  std::vector<std::string> filter_subjects{};
  /// How long a subscriber has to ack, reject or ping an event before it is delivered again.
  std::chrono::milliseconds processing_timeout{std::chrono::seconds(30)};
  /// Where a new consumer starts. Applies once: updating an existing durable consumer keeps its
  /// position (and the start it was created with).
  ConsumeFrom from{};
  /// Deliveries of one event before the server gives up on it; 0 = unlimited. For dead letters
  /// (SubscribeOptions::dead_letters) leave it 0: the subscription counts the deliveries.
  int max_delivery_attempts = 0;
  /// Events delivered and not yet acknowledged, across all subscribers; beyond it the server
  /// waits. Bounds memory and redelivery storms.
  int max_pending = 256;
  /// How long the server keeps a consumer nobody subscribes to (push) or pulls from (pull).
  /// Ephemeral consumers: zero is the server's default (5 s). Durable consumers: zero keeps them
  /// until deleted.
  std::chrono::milliseconds inactive_threshold{};
  /// Pull consumer: subscribers fetch events as they have room (SubscribeOptions::max_in_flight)
  /// instead of the server pushing them. What windshift-server and windshift-go create; several
  /// subscribers of a durable one share its events without a queue group. Push (false) is the
  /// default. A consumer cannot change between push and pull.
  bool pull = false;
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
  /// The configuration the server holds (`from` as created; filter_subjects as declared).
  ConsumerConfig config{};
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
  /// Never deliver this event again (JetStream "term"). With dead letters
  /// (SubscribeOptions::dead_letters) the event is copied to the dead-letter stream first.
  bool permanently = false;
  /// Why (for the dead-letter stream's Reflex-Dead-Letter-Reason header); "" says "rejected".
  std::string reason{};
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
  /// The payload and the headers (copied out of the message on first use).
  [[nodiscard]] const std::string& data() const;
  [[nodiscard]] const Headers& headers() const;
  /// The event's stream sequence.
  [[nodiscard]] std::uint64_t sequence() const noexcept;
  /// 1 on first delivery, 2 on the first redelivery, ...
  [[nodiscard]] std::uint64_t attempt() const noexcept;
  /// When JetStream stored the event.
  [[nodiscard]] std::chrono::system_clock::time_point stored() const noexcept;
  /// The reflex event it carries (see codec.hpp); its id is the stream sequence.
  [[nodiscard]] Event event() const;
  /// The event as windshift reads it: WS-Data-Type and the payload as the Any (a message in the
  /// reflex format becomes a kEventEnvelopeType envelope whose id is its Reflex-Source-Id, else
  /// the sequence); WS-Published-Time, else Reflex-Timestamp, else the time JetStream stored it
  /// (an unreadable time is not an error: windshift-server drops such an event, we keep it);
  /// Nats-Msg-Id as the idempotency key; WS-Trace-Parent/State (else a W3C Reflex-Trace).
  [[nodiscard]] WindshiftEvent windshift_event() const;

  /// The event was processed: it is not delivered again. Waits for the server's confirmation
  /// (throws Unavailable when it does not come).
  void ack();
  /// As ack(), without waiting for the server's confirmation (what windshift-server does): one
  /// publish, no round trip, for consumers that ack at a high rate. A lost acknowledgement means
  /// one redelivery after the processing timeout. Throws Unavailable when it cannot be sent.
  void ack_nowait();
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

/// Dead letters of a subscription: events that reach the delivery limit, or are rejected
/// permanently, are copied to a dead-letter stream (then terminated in their own stream), with
/// every header and their failure:
///
/// - stream: `dead_letter_stream(<stream>)` = "<stream>-dead-letters" unless named here, created
///   on demand (file storage unless set, no limits, 2-minute duplicate window) with the subjects
///   "<dead-letter stream>.>";
/// - subject: "<dead-letter stream>.<consumer>.<original subject>", so a consumer of the
///   dead-letter stream can pick one consumer's failures or one original subject's;
/// - headers: the original ones (but Nats-Msg-Id) plus header::dead_letter_* (stream, subject,
///   sequence, consumer, reason, attempts, time, the original Nats-Msg-Id), and Nats-Msg-Id
///   "dead-letter:<stream>:<consumer>:<sequence>", so a copy made twice (a crash between copy
///   and terminate) is stored once;
/// - replay: read the dead-letter stream like any other and publish `replay_message(delivery)`.
///
/// The copy is published and acknowledged before the event is terminated: if it fails, the
/// event is left to be redelivered (and dead-lettered then). The delivery limit is counted by the
/// subscription, not the server (whose limit would drop the event without a copy): a delivery
/// whose attempt is above max_deliveries is dead-lettered instead of handed out, and a reject of
/// the last allowed attempt dead-letters at once. Every subscriber of a consumer must use the
/// same options.
struct DeadLetterOptions {
  /// Deliveries an event may have before it is dead-lettered; 0: no limit (only permanent
  /// rejects are dead-lettered).
  int max_deliveries = 0;
  /// The dead-letter stream; "" for dead_letter_stream(<the consumer's stream>).
  std::string stream{};
  /// Storage of a dead-letter stream created on demand.
  Storage storage = Storage::file;
};

/// "<stream>-dead-letters": the dead-letter stream of a stream's consumers (DeadLetterOptions).
[[nodiscard]] REFLEX_RNATS_EXPORT std::string dead_letter_stream(std::string_view stream);

/// The original event of a dead letter, ready to publish again (replay): its subject
/// (header::dead_letter_subject), data and original headers, without the dead-letter headers and
/// with idempotency key "replay:<dead-letter stream>:<sequence>" (replaying one dead letter twice
/// within the duplicate window stores it once). Throws ConfigError when `dead_letter` is no dead
/// letter.
[[nodiscard]] REFLEX_RNATS_EXPORT OutgoingEvent replay_message(const Delivery& dead_letter);

/// Options of a Subscription.
struct SubscribeOptions {
  /// Ping every unfinished delivery at this interval (keep it below the consumer's processing
  /// timeout); zero disables automatic pinging.
  std::chrono::milliseconds auto_ping{};
  /// Pull consumers: deliveries handed out and not yet finished (acknowledged, rejected, dropped
  /// or past the processing timeout) at most; the subscription fetches only what fits. Push
  /// consumers are bounded by the consumer's max_pending instead.
  std::size_t max_in_flight = 64;
  /// Copy events that fail for good to a dead-letter stream (see DeadLetterOptions); none: the
  /// server's own limit (ConsumerConfig::max_delivery_attempts) drops them.
  std::optional<DeadLetterOptions> dead_letters{};
};

/// Counters of a Subscription.
struct SubscriptionStats {
  /// Deliveries handed out by next().
  std::uint64_t delivered = 0;
  /// Events on none of the consumer's filter_subjects, acknowledged without being handed out.
  std::uint64_t filtered = 0;
  /// Events copied to the dead-letter stream.
  std::uint64_t dead_lettered = 0;
  /// Copies to the dead-letter stream that failed (the event is redelivered and tried again).
  std::uint64_t dead_letter_failures = 0;
};

/// Receives a consumer's events. Several subscriptions to one durable consumer (in one process or
/// many) share its events; each event goes to one of them at a time. Deliveries are handed over
/// by next() on the caller's thread. After a connection loss or server restart the subscription
/// continues by itself.
///
/// Push consumers deliver into the subscription as the server sends; pull consumers
/// (ConsumerConfig::pull) are fetched from within next(), never more than
/// SubscribeOptions::max_in_flight unfinished at once, with one pull request outstanding (renewed
/// every few seconds, and at once after a reconnect). next() also acknowledges events the
/// consumer's filter_subjects exclude and dead-letters events past their delivery limit
/// (SubscribeOptions::dead_letters); neither is handed out.
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

  /// The consumer's processing timeout (its ack wait), as read when subscribing.
  [[nodiscard]] std::chrono::milliseconds processing_timeout() const noexcept;
  /// Counters since the subscription was made.
  [[nodiscard]] SubscriptionStats stats() const;

 private:
  std::shared_ptr<detail::SubscriptionState> state_;
};

}  // namespace reflex::rnats
