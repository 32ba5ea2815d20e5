#pragma once
// relay's progress as prometheus-cpp metrics (reflex_relay_*), read from the relay's stats when
// scraped, for `reflexctl relay --http`.

#include <prometheus/collectable.h>

#include <functional>
#include <string>
#include <vector>

#include "reflex/rnats/relay.hpp"

namespace reflexctl {

/// reflex_relay_published_total, _acknowledged_total, _duplicates_total, _republished_total,
/// _recoveries_total (counters) and reflex_relay_cursor (gauge: the last event id the stream
/// holds, when it is a number), labelled relay="NAME".
///
/// Thread-safety: Collect() from any thread, as `stats` allows.
class RelayMetrics final : public prometheus::Collectable {
 public:
  RelayMetrics(std::string relay, std::function<reflex::rnats::RelayStats()> stats);
  [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::string relay_;
  std::function<reflex::rnats::RelayStats()> stats_;
};

}  // namespace reflexctl
