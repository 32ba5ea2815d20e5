// serve's counters as prometheus-cpp metric families (see serve_metrics.hpp).

#include "serve_metrics.hpp"

#include <prometheus/metric_family.h>

namespace reflex_tools {
namespace {

prometheus::MetricFamily family(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Gauge) {
    metric.gauge.value = value;
  } else {
    metric.counter.value = value;
  }
  return {.name = name, .help = help, .type = type, .metric = {metric}};
}

}  // namespace

ServeMetrics::ServeMetrics(std::function<reflex::rgrpc::StreamStats()> stats)
    : stats_(std::move(stats)) {}

std::vector<prometheus::MetricFamily> ServeMetrics::Collect() const {
  const auto s = stats_();
  using prometheus::MetricType;
  return {
      family("reflex_serve_open_streams", "Streams open now.", MetricType::Gauge,
             static_cast<double>(s.open_streams)),
      family("reflex_serve_streams_total", "Streams accepted since start.", MetricType::Counter,
             static_cast<double>(s.streams_started)),
      family("reflex_serve_refused_total",
             "Calls refused (token, unknown stream, max streams, stopping).", MetricType::Counter,
             static_cast<double>(s.streams_refused)),
      family("reflex_serve_events_sent_total", "Events handed to gRPC.", MetricType::Counter,
             static_cast<double>(s.events_sent)),
  };
}

}  // namespace reflex_tools
