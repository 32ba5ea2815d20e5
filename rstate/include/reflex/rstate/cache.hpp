#pragma once
/// Short-lived values and locks in an SQL table, for a server that has a database and no NATS
/// (reflexd's stategate CacheService and MutexService fall back to them). Every call is one
/// short transaction on the database's pooled connections; times are this process's wall clock.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "reflex/rsql/database.hpp"
#include "reflex/rstate/export.hpp"
#include "reflex/rstate/schema.hpp"

namespace reflex::rstate {

using Clock = std::chrono::system_clock;

/// Values by domain and key, each until an optional expiry: an expired value is gone (get()
/// does not return it; it is deleted when met, and set() removes expired rows now and then).
///
/// Thread-safety: every member may be called from several threads at once. Lifetime: a handle;
/// keeps its database alive.
class REFLEX_RSTATE_EXPORT CacheTable final {
 public:
  /// Validates the table name (ConfigError); does not connect.
  explicit CacheTable(std::shared_ptr<rsql::Database> database, CacheSchema schema = {});

  /// Stores `value` (bytes), replacing any earlier one, until `expires` (nullopt: for good).
  void set(std::string_view domain, std::string_view key, std::string_view value,
           std::optional<Clock::time_point> expires) const;
  /// The value and its expiry, unless there is none or it has expired.
  [[nodiscard]] std::optional<std::pair<std::string, std::optional<Clock::time_point>>> get(
      std::string_view domain, std::string_view key) const;
  /// Deletes the value; true when there was one (expired or not).
  bool erase(std::string_view domain, std::string_view key) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

/// Locks by domain and key, each until unlocked or until its optional expiry (so a crashed
/// holder's lock ends). At most one lock() of a key returns true while it is held, from any
/// number of threads and processes sharing the database: the row's primary key decides.
///
/// Thread-safety: every member may be called from several threads at once. Lifetime: a handle;
/// keeps its database alive.
class REFLEX_RSTATE_EXPORT MutexTable final {
 public:
  /// Validates the table name (ConfigError); does not connect.
  explicit MutexTable(std::shared_ptr<rsql::Database> database, MutexesSchema schema = {});

  /// Takes the lock until `expires` (nullopt: until unlocked): true when taken, false while it
  /// is held and not expired.
  [[nodiscard]] bool lock(std::string_view domain, std::string_view key,
                          std::optional<Clock::time_point> expires) const;
  /// Releases the lock: true when it was held, false when it was not (never locked, unlocked
  /// already, or expired).
  bool unlock(std::string_view domain, std::string_view key) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace reflex::rstate
