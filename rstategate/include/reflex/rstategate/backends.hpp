#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "reflex/rstategate/export.hpp"

// What the PeerService, CacheService and MutexService run on: a small interface each, so that a
// deployment picks NATS (nats.hpp), this process (the make_memory_* below) or an SQL database
// (a later module) without the services knowing. Values are opaque bytes to a backend; the
// services validate names before they reach one. Times are wall-clock times, as stategate's
// `exp` is (a google.protobuf.Timestamp).

namespace reflex::rstategate {

using Clock = std::chrono::system_clock;

/// Where a peer message goes (Broadcast) or which messages a subscriber wants (Stream): in a
/// pattern, a field that is exactly "*" matches any value of that field.
struct PeerTopic {
  std::string domain{};
  std::string channel{};
  std::string type{};
};

/// The messages of one subscription, taken with next().
///
/// Thread-safety: next() from one thread at a time. Lifetime: destroying it unsubscribes.
class REFLEX_RSTATEGATE_EXPORT PeerInbox {
 public:
  virtual ~PeerInbox();
  /// The next message's payload: waits until one arrives, `stop` is requested or `timeout`
  /// passes (nullopt for both). Throws reflex::Unavailable once the subscription can deliver
  /// nothing more (its connection closed).
  virtual std::optional<std::string> next(std::stop_token stop,
                                          std::chrono::milliseconds timeout) = 0;
};

/// Peer messages: not stored, delivered to the subscribers present when they are published.
/// Subscribers of one pattern in one non-empty consumer group share its messages, each message
/// to one member; every other subscriber (another group, another pattern, no group) gets each.
///
/// Thread-safety: every member from any thread. Lifetime: outlives its inboxes.
class REFLEX_RSTATEGATE_EXPORT PeerHub {
 public:
  virtual ~PeerHub();
  /// Sends `payload` to the subscribers whose pattern matches `topic` (no "*" fields).
  virtual void publish(const PeerTopic& topic, std::string_view payload) = 0;
  /// Subscribes to `pattern`; returns once a publish started after it will reach the inbox.
  [[nodiscard]] virtual std::unique_ptr<PeerInbox> subscribe(const PeerTopic& pattern,
                                                             std::string_view consumer_group) = 0;
};

/// A cached value and when it expires (nullopt: never).
struct CacheEntry {
  std::string value{};
  std::optional<Clock::time_point> expires{};
};

/// Cached values by domain and key; an expired value is gone: get() does not return it and the
/// store may delete it whenever it likes.
///
/// Thread-safety: every member from any thread. Lifetime: a plain object.
class REFLEX_RSTATEGATE_EXPORT CacheStore {
 public:
  virtual ~CacheStore();
  /// Stores `value` (replacing any earlier one) until `expires` (nullopt: for good).
  virtual void set(std::string_view domain, std::string_view key, std::string_view value,
                   std::optional<Clock::time_point> expires) = 0;
  /// The value, unless there is none or it has expired.
  [[nodiscard]] virtual std::optional<CacheEntry> get(std::string_view domain,
                                                      std::string_view key) = 0;
  /// Deletes the value; deleting a missing one is no error.
  virtual void erase(std::string_view domain, std::string_view key) = 0;
};

/// Locks by domain and key. A lock is held from a lock() that returned true until unlock() or
/// until it expires; a crashed holder's lock therefore ends at its expiry. At most one lock() of
/// a key returns true while it is held, whatever the number of callers and processes.
///
/// Thread-safety: every member from any thread. Lifetime: a plain object.
class REFLEX_RSTATEGATE_EXPORT MutexStore {
 public:
  virtual ~MutexStore();
  /// Takes the lock until `expires` (nullopt: until unlocked): true when taken, false when it
  /// is held and not expired.
  [[nodiscard]] virtual bool lock(std::string_view domain, std::string_view key,
                                  std::optional<Clock::time_point> expires) = 0;
  /// Releases the lock: true when it was held, false when it was not (never locked, unlocked
  /// already, or expired).
  virtual bool unlock(std::string_view domain, std::string_view key) = 0;
};

/// Options of the in-process PeerHub.
struct MemoryPeerHubOptions {
  /// Messages an inbox holds for a subscriber that does not take them; further messages for it
  /// are dropped (as NATS drops them for a slow consumer), so one slow subscriber neither blocks
  /// publishers nor grows memory.
  std::size_t inbox_capacity = 1024;
};

/// Peer messages within this process (for a server without NATS): the semantics of the NATS hub;
/// members of a consumer group take turns (round robin).
[[nodiscard]] REFLEX_RSTATEGATE_EXPORT std::shared_ptr<PeerHub> make_memory_peer_hub(
    MemoryPeerHubOptions options = {});
/// Cached values in this process's memory (lost when it exits); expired values are removed as
/// they are read and by set() now and then.
[[nodiscard]] REFLEX_RSTATEGATE_EXPORT std::shared_ptr<CacheStore> make_memory_cache_store();
/// Locks in this process's memory (for a single server; lost when it exits).
[[nodiscard]] REFLEX_RSTATEGATE_EXPORT std::shared_ptr<MutexStore> make_memory_mutex_store();

}  // namespace reflex::rstategate
