#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include "reflex/cursor_store.hpp"
#include "reflex/rnats/codec.hpp"
#include "reflex/rnats/connection.hpp"
#include "reflex/rnats/export.hpp"
#include "reflex/stream.hpp"

namespace reflex::rnats {

namespace detail {
struct RelayState;
}  // namespace detail

/// What a Relay reads, where it publishes and how.
struct RelayOptions {
  /// Identifies the relay: every message's Nats-Msg-Id is "<name>:<source event id>", and its
  /// cursor (if a cursor store is given) is kept under this name. Keep it stable.
  std::string name{};
  /// The events to relay, normally an SQL outbox (rsql); any reflex source works. Its cursors are
  /// the event ids.
  StreamFunc source{};
  /// The JetStream stream receiving the events. It must exist (ensure_stream) and its subjects
  /// must be this relay's alone: the relay guards the stream's order with expected-last checks.
  std::string stream{};
  /// Publish every event to this subject...
  std::string subject{};
  /// ...or to "<subject_prefix>.<event type>" (set exactly one of the two).
  std::string subject_prefix{};
  /// How events are written: reflex's headers (the default), or windshift's format so that
  /// windshift clients consume the stream (see WireFormat and WindshiftOptions in codec.hpp).
  /// Either way Nats-Msg-Id is "<name>:<event id>" and JetStream sources read both.
  WireFormat format = WireFormat::reflex;
  WindshiftOptions windshift{};
  /// Published events awaiting JetStream's acknowledgement at most.
  std::size_t max_in_flight = 1024;
  /// Events read from the source ahead of publishing, at most: enough that the source's reads
  /// (a query per batch on SQL) never leave the publishing without events, also when the
  /// machine is busy and the reading thread waits for a core.
  std::size_t read_ahead = 4096;
  /// A publish not acknowledged within this time counts as failed (and is republished).
  std::chrono::milliseconds ack_timeout{std::chrono::seconds(5)};
  /// Delay before retrying after a transient failure; doubles up to max_retry_backoff.
  std::chrono::milliseconds retry_backoff{std::chrono::milliseconds(100)};
  std::chrono::milliseconds max_retry_backoff{std::chrono::seconds(5)};
  /// Optional: records the acknowledged prefix (the relay's progress, for monitoring) and is the
  /// resume point when the stream holds none of the relay's messages any more (aged out).
  std::shared_ptr<CursorStore> cursors{};
  /// Where to start when neither the stream nor the cursor store says (e.g. "" = the source's
  /// beginning). Unset, a stream that has had messages but holds none of ours is an error.
  std::optional<std::string> start_after{};
};

/// Counters of a relay (cumulative since construction).
struct RelayStats {
  /// Publishes sent, including republishes.
  std::uint64_t published = 0;
  /// Events acknowledged by JetStream in order (the relay's committed progress).
  std::uint64_t acknowledged = 0;
  /// Acknowledgements marked duplicate (the server had the message already).
  std::uint64_t duplicates = 0;
  /// Events published again after a failure.
  std::uint64_t republished = 0;
  /// Failures recovered from (publish errors, timeouts, source restarts).
  std::uint64_t recoveries = 0;
  /// Source id of the last event the stream is known to hold: once run() has recovered its
  /// position at start (from the stream, else the cursor store or start_after), that position;
  /// then the last acknowledged event. "" before either.
  std::string cursor{};
  /// The last failure recovered from, for logs ("" when none).
  std::string last_error{};
};

/// Relays a reflex source (normally the SQL outbox) into a JetStream stream, exactly once and in
/// order:
/// - events are published asynchronously with at most `max_in_flight` unacknowledged, each with
///   Nats-Msg-Id "<name>:<event id>" so that the server drops a duplicate within its duplicate
///   window, and each guarded by the id (or sequence) JetStream must hold last, so a lost publish
///   can never be overtaken by a later one;
/// - progress advances only over the acknowledged prefix; on a failure (error, timeout,
///   disconnect) the relay waits for the in-flight publishes to settle, reads the stream's last
///   message and republishes from the first event after it, with the same ids;
/// - on start it reads the stream's last message and resumes the source after the event named by
///   its Nats-Msg-Id, so a relay that was down (or killed) for any time neither duplicates nor
///   loses events.
/// Transient failures (server restarts, timeouts, retryable source errors) are retried with
/// backoff; others end run() with the error.
///
/// Thread-safety: run() once at a time; stats() from any thread. Lifetime: keeps the connection
/// alive; the source and cursor store must outlive run().
class REFLEX_RNATS_EXPORT Relay final {
 public:
  Relay(Connection connection, RelayOptions options);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  /// Relays until `stop` is requested (then returns normally after committing what was
  /// acknowledged) or a non-retryable error occurs (thrown).
  void run(std::stop_token stop);

  [[nodiscard]] RelayStats stats() const;

  /// Blocks until `reached(stats())` holds (checked at once and whenever the cursor moves) or
  /// `stop` is requested; returns whether it holds. `reached` runs under the relay's lock: keep
  /// it short and do not call the relay from it. E.g. stop a run once the cursor is at a head.
  bool wait_for(std::stop_token stop, const std::function<bool(const RelayStats&)>& reached) const;

 private:
  Connection connection_;
  RelayOptions options_;
  std::shared_ptr<detail::RelayState> state_;
};

}  // namespace reflex::rnats
