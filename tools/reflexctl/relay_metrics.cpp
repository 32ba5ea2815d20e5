// relay's progress as metric families (see relay_metrics.hpp).

#include "relay_metrics.hpp"

#include <prometheus/metric_family.h>

#include "reflex/event.hpp"

namespace reflexctl {

RelayMetrics::RelayMetrics(std::string relay, std::function<reflex::rnats::RelayStats()> stats)
    : relay_(std::move(relay)), stats_(std::move(stats)) {}

std::vector<prometheus::MetricFamily> RelayMetrics::Collect() const {
  const auto s = stats_();
  using prometheus::MetricType;
  const auto family = [&](const char* name, const char* help, MetricType type, double value) {
    prometheus::ClientMetric metric;
    metric.label = {{.name = "relay", .value = relay_}};
    if (type == MetricType::Gauge) {
      metric.gauge.value = value;
    } else {
      metric.counter.value = value;
    }
    return prometheus::MetricFamily{.name = name, .help = help, .type = type, .metric = {metric}};
  };
  std::vector<prometheus::MetricFamily> out{
      family("reflex_relay_published_total", "Publishes sent, republishes included.",
             MetricType::Counter, static_cast<double>(s.published)),
      family("reflex_relay_acknowledged_total",
             "Events JetStream acknowledged in order (the relay's progress).", MetricType::Counter,
             static_cast<double>(s.acknowledged)),
      family("reflex_relay_duplicates_total", "Acknowledgements the server marked duplicate.",
             MetricType::Counter, static_cast<double>(s.duplicates)),
      family("reflex_relay_republished_total", "Events published again after a failure.",
             MetricType::Counter, static_cast<double>(s.republished)),
      family("reflex_relay_recoveries_total", "Failures the relay recovered from.",
             MetricType::Counter, static_cast<double>(s.recoveries)),
  };
  // An SQL outbox's ids are numbers; a cursor that is none (or none yet) has no gauge.
  if (const auto cursor = reflex::parse_int64(s.cursor)) {
    out.push_back(family("reflex_relay_cursor", "Id of the last source event the stream holds.",
                         MetricType::Gauge, static_cast<double>(*cursor)));
  }
  return out;
}

}  // namespace reflexctl
