#pragma once

#include <prometheus/registry.h>

#include <chrono>
#include <memory>
#include <string_view>
#include <vector>

#include "reflex/metrics.hpp"
#include "reflex/prometheus/export.hpp"

namespace reflex::prometheus {

/// Bucket layouts and the refresh period of time-based gauges.
struct MetricsOptions {
  /// reflex_consumer_event_age_seconds buckets (seconds).
  std::vector<double> age_buckets{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 3600};
  /// reflex_consumer_latency_seconds and reflex_table_poll_duration_seconds buckets (seconds).
  std::vector<double> latency_buckets{0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};
  /// How often a background thread publishes what consumers recorded per event (the age and
  /// latency histograms, the events, skipped and errors counters, the lag and lag-alert gauges),
  /// which each recorder gathers in between with no lock and, on the thread that runs the
  /// consumer, no locked instruction; and re-evaluates the `active` gauges (which fall to 0 when a
  /// consumer saw no event within its activity TTL). So those metrics are up to one interval
  /// behind. Zero: no thread; every update goes to the registry at once (several atomic
  /// read-modify-writes per event) and refresh() re-evaluates `active` when you call it.
  std::chrono::milliseconds refresh_interval{std::chrono::seconds(1)};
};

/// Records reflex metrics into a caller's registry (never a global one):
///
/// Per consumer (label `consumer_name`): reflex_consumer_lag_seconds (gauge, age of the last
/// event handled), reflex_consumer_lag_alert (gauge 0/1, last age above the consumer's lag_alert),
/// reflex_consumer_active (gauge 0/1, an event handled within activity_ttl, at the resolution of
/// refresh_interval),
/// reflex_consumer_event_age_seconds (histogram), reflex_consumer_latency_seconds (histogram),
/// reflex_consumer_events_total, reflex_consumer_skipped_total, reflex_consumer_errors_total.
///
/// Per SQL table (label `table`): reflex_table_polls_total, reflex_table_poll_duration_seconds,
/// reflex_table_rows_loaded_total, reflex_table_cache_hits_total, reflex_table_cache_misses_total,
/// reflex_table_gaps_detected_total, reflex_table_gaps_filled_total,
/// reflex_table_hole_probes_total, reflex_table_hole_probe_ids_total, reflex_table_blocked_seconds,
/// reflex_table_cursor_writes_total.
///
/// Per shard of a shared consumer (labels `consumer`, `shard`, 0-based): reflex_shard_owned
/// (gauge 0/1, this process holds the shard's lease), reflex_shard_lease_changes_total (label
/// `change`: acquired, released, lost). A shard's lag is its consumer's
/// (`consumer_name="<group>_<shard+1>_of_<count>"`).
///
/// Thread-safety: every member and every recorder it returns may be used from any thread.
/// Lifetime: the registry must outlive this object and every recorder it returned; recorders may
/// outlive this object.
class REFLEX_PROMETHEUS_EXPORT Metrics final : public reflex::MetricsObserver {
 public:
  explicit Metrics(::prometheus::Registry& registry, MetricsOptions options = {});
  ~Metrics() override;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  [[nodiscard]] std::shared_ptr<ConsumerMetrics> consumer(
      std::string_view consumer_name, const ConsumerMetricsOptions& options) override;
  [[nodiscard]] std::shared_ptr<TableMetrics> table(std::string_view table_name) override;
  [[nodiscard]] std::shared_ptr<ShardMetrics> shard(std::string_view group,
                                                    std::size_t shard) override;

  /// Publishes what consumers recorded since the last refresh and re-evaluates the time-based
  /// gauges, now (the background refresher calls it every refresh_interval).
  void refresh();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace reflex::prometheus
