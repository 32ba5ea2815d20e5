#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "reflex/export.hpp"

namespace reflex {

/// Thresholds that turn a consumer's raw measurements into alert-style gauges.
struct ConsumerMetricsOptions {
  /// Events older than this when consumed raise the lag alert; zero disables the alert.
  std::chrono::milliseconds lag_alert{std::chrono::minutes(30)};
  /// A consumer is "active" while it handled an event within this time; zero disables the gauge.
  std::chrono::milliseconds activity_ttl{std::chrono::hours(1)};
};

/// Per-consumer recorder, obtained once per consumer so that recording an event does no label
/// lookups or allocations.
///
/// Thread-safety: implementations must accept calls from several threads at once.
class REFLEX_CORE_EXPORT ConsumerMetrics {
 public:
  virtual ~ConsumerMetrics() = default;
  /// An event was consumed successfully; `age` is now minus the event timestamp.
  virtual void on_consumed(std::chrono::nanoseconds age,
                           std::chrono::nanoseconds latency) noexcept = 0;
  /// An event was filtered out (its cursor still advances).
  virtual void on_skipped(std::chrono::nanoseconds age) noexcept = 0;
  /// Consuming an event failed (after any recovery function kept the error).
  virtual void on_error(std::chrono::nanoseconds age) noexcept = 0;
};

/// Per-table recorder for SQL sources and cursor tables (label `table`). Every hook has a no-op
/// default so that sources may report only what they know.
///
/// Thread-safety: implementations must accept calls from several threads at once.
class REFLEX_CORE_EXPORT TableMetrics {
 public:
  virtual ~TableMetrics() = default;
  /// One query for events finished, returning `rows` rows.
  virtual void on_poll(std::chrono::nanoseconds /*duration*/, std::size_t /*rows*/) noexcept {}
  /// A stream was served from the shared head cache (hit) or had to query (miss).
  virtual void on_cache(bool /*hit*/) noexcept {}
  /// A hole in the id sequence was seen below rows that are already visible.
  virtual void on_gap_detected() noexcept {}
  /// A hole that held delivery back was passed (it filled, or was found final).
  virtual void on_gap_filled() noexcept {}
  /// A reader probed holes: MariaDB/MySQL, one transaction over `ids` missing ids (those found
  /// free became no-op rows); PostgreSQL, one transaction-id horizon check (`ids` 0).
  virtual void on_hole_probe(std::size_t /*ids*/) noexcept {}
  /// How long delivery has been held back by an open hole or transaction horizon (zero = not).
  virtual void set_blocked(std::chrono::nanoseconds /*held*/) noexcept {}
  /// Who holds delivery back, reported with set_blocked: on PostgreSQL the backend pid
  /// (`pg_stat_activity.pid`) of the oldest transaction that wrote the events table and may still
  /// fill the hole; 0 when nothing holds it, or the dialect or a prepared transaction cannot say.
  virtual void set_blocker(std::int64_t /*pid*/) noexcept {}
  /// `count` cursors were written to a cursor table.
  virtual void on_cursor_writes(std::size_t /*count*/) noexcept {}
};

/// What happened to a shard's lease (rpatterns' shared consumers).
enum class LeaseChange {
  /// This process took the lease.
  acquired,
  /// This process gave the lease up (rebalancing, a clean stop).
  released,
  /// This process lost the lease: it could not renew it in time, or another took it.
  lost,
};

/// Per-shard recorder of a shared consumer (rpatterns/shared.hpp), obtained once per shard. The
/// lag of a shard is its consumer's (ConsumerMetrics of the shard's consumer name).
///
/// Thread-safety: implementations must accept calls from several threads at once.
class REFLEX_CORE_EXPORT ShardMetrics {
 public:
  virtual ~ShardMetrics() = default;
  /// Whether this process holds the shard's lease now.
  virtual void set_owned(bool owned) noexcept = 0;
  /// The lease changed hands.
  virtual void on_lease_change(LeaseChange change) noexcept = 0;
};

/// Where reflex components report measurements. Core ships no implementation but the null one;
/// reflex::prometheus implements it on a caller's prometheus::Registry.
///
/// Thread-safety: implementations must be safe to call from several threads.
/// Lifetime: recorders returned here may be kept by components as long as they live.
class REFLEX_CORE_EXPORT MetricsObserver {
 public:
  virtual ~MetricsObserver() = default;
  [[nodiscard]] virtual std::shared_ptr<ConsumerMetrics> consumer(
      std::string_view consumer_name, const ConsumerMetricsOptions& options) = 0;
  [[nodiscard]] virtual std::shared_ptr<TableMetrics> table(std::string_view table_name) = 0;
  /// The recorder of shard `shard` (0-based) of shared consumer `group`. Not pure, so that
  /// observers written before shared consumers keep compiling: the default records nothing.
  [[nodiscard]] virtual std::shared_ptr<ShardMetrics> shard(std::string_view group,
                                                            std::size_t shard);
};

/// Recorders that do nothing (what components use when no observer is configured).
[[nodiscard]] REFLEX_CORE_EXPORT std::shared_ptr<ConsumerMetrics> null_consumer_metrics();
[[nodiscard]] REFLEX_CORE_EXPORT std::shared_ptr<TableMetrics> null_table_metrics();
[[nodiscard]] REFLEX_CORE_EXPORT std::shared_ptr<ShardMetrics> null_shard_metrics();

}  // namespace reflex
