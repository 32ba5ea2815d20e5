#include "reflex/metrics.hpp"

namespace reflex {

namespace {
class NullConsumerMetrics final : public ConsumerMetrics {
 public:
  void on_consumed(std::chrono::nanoseconds, std::chrono::nanoseconds) noexcept override {}
  void on_skipped(std::chrono::nanoseconds) noexcept override {}
  void on_error(std::chrono::nanoseconds) noexcept override {}
};
class NullTableMetrics final : public TableMetrics {};
class NullShardMetrics final : public ShardMetrics {
 public:
  void set_owned(bool) noexcept override {}
  void on_lease_change(LeaseChange) noexcept override {}
};
}  // namespace

std::shared_ptr<ConsumerMetrics> null_consumer_metrics() {
  static const auto instance = std::make_shared<NullConsumerMetrics>();
  return instance;
}

std::shared_ptr<TableMetrics> null_table_metrics() {
  static const auto instance = std::make_shared<NullTableMetrics>();
  return instance;
}

std::shared_ptr<ShardMetrics> null_shard_metrics() {
  static const auto instance = std::make_shared<NullShardMetrics>();
  return instance;
}

std::shared_ptr<ShardMetrics> MetricsObserver::shard(std::string_view, std::size_t) {
  return null_shard_metrics();
}

}  // namespace reflex
