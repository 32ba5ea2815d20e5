#pragma once
// reflexd's own gauges, read when scraped: that it is up, what it is, whether it is ready.

#include <prometheus/collectable.h>

#include <functional>
#include <string>
#include <vector>

namespace reflexd {

/// What the gauges report.
struct ProcessFacts {
  /// "reflexpb,windshift": the services on.
  std::string services;
  /// Whether every backend answers now (what /readyz says).
  std::function<bool()> ready;
  /// Whether the NATS connection is up; empty when NATS is not configured.
  std::function<bool()> nats_connected{};
};

/// reflexd_up (1 while it runs), reflexd_info{version, services} (1),
/// reflexd_start_time_seconds, reflexd_ready (1/0) and, with NATS, reflexd_nats_connected (1/0).
///
/// Thread-safety: Collect() from any thread, as the facts' functions allow.
class ProcessMetrics final : public prometheus::Collectable {
 public:
  explicit ProcessMetrics(ProcessFacts facts);
  [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  ProcessFacts facts_;
  double started_;  // seconds since the epoch
};

}  // namespace reflexd
