#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/rnats/connection.hpp"
#include "reflex/rnats/export.hpp"
#include "reflex/rnats/streams.hpp"

// Key-value state on JetStream KV buckets: windshift's state service as a C++ API.

namespace reflex::rnats {

/// A bucket's declared configuration (StateStore::ensure creates it or updates it to match).
struct StoreConfig {
  /// Bucket name: letters, digits, '-' and '_'.
  std::string name{};
  std::string description{};
  /// Revisions kept per key (1..64).
  int history = 1;
  /// Entries older than this are removed; zero keeps them forever.
  std::chrono::milliseconds ttl{};
  Storage storage = Storage::file;
  /// Copies kept in a JetStream cluster (1..5).
  int replicas = 1;
  /// Largest value in bytes; zero: unlimited.
  std::int32_t max_value_size = 0;
  /// Largest bucket in bytes; zero: unlimited.
  std::int64_t max_bytes = 0;
};

/// One value of a key and its revision (the bucket-wide sequence of the write that stored it).
struct Entry {
  std::string key{};
  std::string value{};
  std::uint64_t revision = 0;
  std::chrono::system_clock::time_point created{};
};

/// What happened to a key, as seen by a watch.
struct Change {
  enum class Kind { put, erase, purge };
  Kind kind = Kind::put;
  /// For erase and purge, `value` is empty and `revision` is the marker's revision.
  Entry entry{};
};

/// Options of StateStore::watch.
struct WatchOptions {
  /// Deliver every retained revision of each matching key, not only the latest.
  bool include_history = false;
  /// Skip erase and purge markers.
  bool ignore_deletes = false;
  /// Skip the current values: deliver only changes made after the watch started.
  bool updates_only = false;
};

namespace detail {
struct Access;
struct StoreState;
struct WatchState;
}  // namespace detail

/// A running watch: calls its callback on a thread of its own (never a nats.c thread), in
/// revision order, until stopped or destroyed.
///
/// Thread-safety: every member may be called from any thread but the callback's own.
/// Lifetime: destroying it stops the watch and waits for a running callback to return.
class REFLEX_RNATS_EXPORT Watch final {
 public:
  ~Watch();
  Watch(Watch&&) noexcept;
  Watch& operator=(Watch&&) noexcept;

  /// Waits until the values present when the watch started have been delivered (at once with
  /// updates_only). Returns false when stop was requested, `timeout` passed or the watch ended.
  bool wait_caught_up(std::stop_token stop, std::chrono::milliseconds timeout);
  /// Stops the watch and waits for a running callback to return.
  void stop();
  /// What ended the watch: the callback's exception, or a failure of the watch itself; null while
  /// it runs or after a normal stop.
  [[nodiscard]] std::exception_ptr error() const;

 private:
  friend struct detail::Access;
  explicit Watch(std::shared_ptr<detail::WatchState> state);
  std::shared_ptr<detail::WatchState> state_;
};

/// A JetStream KV bucket holding state: get, put, create-only, update-if-revision, erase and
/// erase-if-revision, watch. Keys use letters, digits and `-_=/\.` (no leading, trailing or
/// doubled '.'); escape_key maps any text to a valid key. Revision conflicts throw
/// RevisionConflict; unreachable servers Unavailable.
///
/// Thread-safety: every member may be called from any thread. Lifetime: a handle; copies share
/// the bucket binding and keep the connection alive.
class REFLEX_RNATS_EXPORT StateStore final {
 public:
  /// Creates the bucket, or updates an existing one to `config` (history, ttl, limits).
  static StateStore ensure(const Connection& connection, const StoreConfig& config);
  /// Binds to an existing bucket; NotFound when it does not exist.
  [[nodiscard]] static StateStore open(const Connection& connection, std::string_view bucket);
  /// Deletes a bucket with all its keys. Returns false when it did not exist.
  static bool remove(const Connection& connection, std::string_view bucket);

  [[nodiscard]] const std::string& bucket() const noexcept;

  /// The current value of `key`; nullopt when the key does not exist or was erased (an empty
  /// value is an Entry with an empty value).
  [[nodiscard]] std::optional<Entry> get(std::string_view key) const;
  /// Stores `value` unconditionally; returns the new revision.
  std::uint64_t put(std::string_view key, std::string_view value);
  /// Stores `value` only if the key does not exist (or was erased); RevisionConflict otherwise.
  std::uint64_t create(std::string_view key, std::string_view value);
  /// Stores `value` only if the key's current revision is `revision`; RevisionConflict otherwise.
  std::uint64_t update(std::string_view key, std::string_view value, std::uint64_t revision);
  /// Erases the key (a delete marker; watchers see Change::Kind::erase).
  void erase(std::string_view key);
  /// Erases the key only if its current revision is `revision`; RevisionConflict otherwise.
  void erase(std::string_view key, std::uint64_t revision);
  /// The bucket's current keys, sorted; erased and purged keys are not listed, and an empty
  /// bucket gives an empty vector. Reads every key (not the values) from the server; Unavailable
  /// when the server stops answering for the connection's request_timeout.
  [[nodiscard]] std::vector<std::string> keys() const;

  /// Watches one key, or every key matching a pattern (`*` one token, `>` the rest, tokens split
  /// by '.'; ">" for the whole bucket). `on_change` runs on the watch's own thread; if it throws,
  /// the watch ends and Watch::error() holds the exception.
  [[nodiscard]] Watch watch(std::string_view key_pattern,
                            std::function<void(const Change&)> on_change,
                            const WatchOptions& options = {}) const;

 private:
  friend struct detail::Access;
  explicit StateStore(std::shared_ptr<detail::StoreState> state);
  std::shared_ptr<detail::StoreState> state_;
};

/// Maps any text to a valid KV key, injectively: letters, digits, '-', '_' and '/' stay, every
/// other byte becomes "=XX" (hex). Use it for keys built from names or ids.
[[nodiscard]] REFLEX_RNATS_EXPORT std::string escape_key(std::string_view text);
/// The inverse of escape_key.
[[nodiscard]] REFLEX_RNATS_EXPORT std::string unescape_key(std::string_view key);

}  // namespace reflex::rnats
