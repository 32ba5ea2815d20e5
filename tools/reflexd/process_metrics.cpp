// reflexd's own gauges (see process_metrics.hpp).

#include "process_metrics.hpp"

#include <prometheus/metric_family.h>

#include <chrono>

#include "reflex/version.hpp"

namespace reflexd {
namespace {

prometheus::MetricFamily gauge(const char* name, const char* help, double value,
                               std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  return {.name = name, .help = help, .type = prometheus::MetricType::Gauge, .metric = {metric}};
}

}  // namespace

ProcessMetrics::ProcessMetrics(ProcessFacts facts)
    : facts_(std::move(facts)),
      started_(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                   .count()) {}

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  std::vector<prometheus::MetricFamily> out{
      gauge("reflexd_up", "1 while reflexd runs.", 1),
      gauge("reflexd_info", "reflexd's version and the services it hosts.", 1,
            {{.name = "version", .value = reflex::version_string},
             {.name = "services", .value = facts_.services}}),
      gauge("reflexd_start_time_seconds", "When reflexd started, in seconds since the epoch.",
            started_),
      gauge("reflexd_ready", "1 while every backend answers (what /readyz says).",
            facts_.ready() ? 1 : 0),
  };
  if (facts_.nats_connected) {
    out.push_back(gauge("reflexd_nats_connected", "1 while reflexd is connected to NATS.",
                        facts_.nats_connected() ? 1 : 0));
  }
  return out;
}

}  // namespace reflexd
