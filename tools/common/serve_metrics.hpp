#pragma once
// serve's own counters (reflex_serve_*) as prometheus-cpp metrics: a Collectable that reads the
// gRPC server's stats when scraped, so /metrics is written by prometheus-cpp like every other
// family.

#include <prometheus/collectable.h>

#include <functional>
#include <vector>

#include "reflex/rgrpc/server.hpp"

namespace reflex_tools {

/// reflex_serve_open_streams (gauge), reflex_serve_streams_total, reflex_serve_refused_total and
/// reflex_serve_events_sent_total (counters), from `stats` at each Collect().
///
/// Thread-safety: Collect() from any thread, as `stats` allows. Lifetime: `stats` must stay
/// callable while this is collected.
class ServeMetrics final : public prometheus::Collectable {
 public:
  explicit ServeMetrics(std::function<reflex::rgrpc::StreamStats()> stats);
  [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::function<reflex::rgrpc::StreamStats()> stats_;
};

}  // namespace reflex_tools
