#include "reflex/prometheus/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace reflex::prometheus {

namespace pm = ::prometheus;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(std::chrono::nanoseconds d) {
  return std::chrono::duration<double>(d).count();
}

std::int64_t now_ns() {
  return Clock::now().time_since_epoch().count();
}

/// Who may take the fast path of a recorder's tallies: the first thread that records owns them
/// (a consumer is normally run by one thread); any other thread takes the slow path.
class Owner {
 public:
  [[nodiscard]] bool mine() noexcept {
    const auto me = std::this_thread::get_id();
    auto owner = owner_.load(std::memory_order_relaxed);
    if (owner == me) return true;
    return owner == std::thread::id{} &&
           owner_.compare_exchange_strong(owner, me, std::memory_order_relaxed);
  }

 private:
  std::atomic<std::thread::id> owner_{};
};

/// A running total gathered per event for the refresher. The owning thread adds with a plain load
/// and store (no locked instruction: it is the only writer of `owned_`); other threads add to
/// `shared_` with an atomic read-modify-write. take() returns what was added since its last call:
/// it never resets `owned_` (that would race with the owner), it remembers how much it took.
/// take() is called by one thread at a time (the refresher under its mutex, or the destructor).
template <typename T>
class Tally {
 public:
  void add(T value, bool owner) noexcept {
    if (owner) {
      owned_.store(owned_.load(std::memory_order_relaxed) + value, std::memory_order_relaxed);
    } else {
      T seen = shared_.load(std::memory_order_relaxed);
      while (!shared_.compare_exchange_weak(seen, seen + value, std::memory_order_relaxed)) {
      }
    }
  }

  [[nodiscard]] T take() noexcept {
    const T owned = owned_.load(std::memory_order_relaxed);
    const T delta = owned - taken_;
    taken_ = owned;
    return delta + shared_.exchange(T{}, std::memory_order_relaxed);
  }

 private:
  std::atomic<T> owned_{};
  std::atomic<T> shared_{};
  T taken_{};
};

/// A histogram fed per event: with a refresher, observations are tallied here and published in
/// one ObserveMultiple per refresh (prometheus-cpp's Observe takes a mutex per call); without one,
/// observed at once.
class EventHistogram {
 public:
  EventHistogram(pm::Histogram& histogram, const std::vector<double>& bounds, bool buffered)
      : histogram_(histogram), bounds_(bounds), buffered_(buffered), counts_(bounds.size() + 1) {}

  void observe(double value, bool owner) noexcept {
    if (!buffered_) {
      histogram_.Observe(value);
      return;
    }
    // The bucket prometheus-cpp picks: the first bound not below the value, else +Inf.
    const auto bucket = static_cast<std::size_t>(
        std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
    counts_[bucket].add(1, owner);
    sum_.add(value, owner);
  }

  /// Moves what was observed since the last call into the histogram.
  void publish() {
    if (!buffered_) return;
    std::vector<double> increments(counts_.size());
    bool any = false;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      increments[i] = static_cast<double>(counts_[i].take());
      any = any || increments[i] > 0;
    }
    // An observation between the reads lands in the next publish, its count or its value: so a
    // sum taken without any count still goes out.
    const double sum = sum_.take();
    if (any || sum != 0) histogram_.ObserveMultiple(increments, sum);
  }

 private:
  pm::Histogram& histogram_;
  std::vector<double> bounds_;
  bool buffered_;
  std::vector<Tally<std::uint64_t>> counts_;
  Tally<double> sum_;
};

// Label-bound metric objects are resolved once here; recording never touches label sets. With a
// refresher (`buffered`), an event touches only this object's tallies and the refresher publishes
// them: prometheus-cpp's counters and gauges take a locked instruction per update (a sequentially
// consistent store or a compare-and-swap loop), several per event.
class PromConsumerMetrics final : public ConsumerMetrics {
 public:
  PromConsumerMetrics(pm::Gauge& lag, pm::Gauge& lag_alert, pm::Gauge& active, pm::Histogram& age,
                      const std::vector<double>& age_bounds, pm::Histogram& latency,
                      const std::vector<double>& latency_bounds, bool buffered, pm::Counter& events,
                      pm::Counter& skipped, pm::Counter& errors, ConsumerMetricsOptions options)
      : lag_(lag),
        lag_alert_(lag_alert),
        active_(active),
        age_(age, age_bounds, buffered),
        latency_(latency, latency_bounds, buffered),
        events_(events),
        skipped_(skipped),
        errors_(errors),
        buffered_(buffered),
        options_(options) {}

  ~PromConsumerMetrics() override {
    try {
      publish();  // a consumer's last events are not lost with its recorder
    } catch (...) {
    }
  }

  /// Moves what was recorded since the last call into the registry's metrics.
  void publish() {
    if (!buffered_) return;
    age_.publish();
    latency_.publish();
    for (auto [tally, counter] :
         {std::pair{&events_seen_, &events_}, std::pair{&skipped_seen_, &skipped_},
          std::pair{&errors_seen_, &errors_}}) {
      if (const auto n = tally->take(); n > 0) counter->Increment(static_cast<double>(n));
    }
    const double age_s = last_age_.load(std::memory_order_relaxed);
    if (!std::isnan(age_s)) set_lag(age_s);
  }

  void on_consumed(std::chrono::nanoseconds age,
                   std::chrono::nanoseconds latency) noexcept override {
    const bool owner = owns();
    saw(age, owner);
    latency_.observe(seconds(latency), owner);
    count(events_seen_, events_, owner);
  }

  void on_skipped(std::chrono::nanoseconds age) noexcept override {
    const bool owner = owns();
    saw(age, owner);
    count(skipped_seen_, skipped_, owner);
  }

  void on_error(std::chrono::nanoseconds age) noexcept override {
    const bool owner = owns();
    saw(age, owner);
    count(errors_seen_, errors_, owner);
  }

  void refresh(std::int64_t now) noexcept {
    if (options_.activity_ttl <= std::chrono::milliseconds::zero()) return;
    // Activity is stamped here rather than per event (no clock read on the per-event path), so
    // its resolution is the refresh interval.
    if (seen_.exchange(false, std::memory_order_relaxed)) {
      last_activity_.store(now, std::memory_order_relaxed);
    }
    const auto last = last_activity_.load(std::memory_order_relaxed);
    const bool active =
        last != 0 && now - last <= std::chrono::nanoseconds(options_.activity_ttl).count();
    active_.Set(active ? 1 : 0);
  }

 private:
  /// Whether this thread takes the tallies' fast path (with a refresher only).
  [[nodiscard]] bool owns() noexcept { return buffered_ && owner_.mine(); }

  void saw(std::chrono::nanoseconds age, bool owner) noexcept {
    const double age_s = seconds(age);
    age_.observe(age_s, owner);
    if (options_.activity_ttl > std::chrono::milliseconds::zero() &&
        !seen_.load(std::memory_order_relaxed)) {
      seen_.store(true, std::memory_order_relaxed);
    }
    if (buffered_) {
      last_age_.store(age_s, std::memory_order_relaxed);  // a plain store: published by publish()
      return;
    }
    set_lag(age_s);
    if (options_.activity_ttl > std::chrono::milliseconds::zero()) active_.Set(1);
  }

  void set_lag(double age_s) noexcept {
    lag_.Set(age_s);
    if (options_.lag_alert > std::chrono::milliseconds::zero()) {
      lag_alert_.Set(age_s > seconds(options_.lag_alert) ? 1 : 0);
    }
  }

  void count(Tally<std::uint64_t>& tally, pm::Counter& counter, bool owner) noexcept {
    if (buffered_) {
      tally.add(1, owner);
    } else {
      counter.Increment();
    }
  }

  pm::Gauge& lag_;
  pm::Gauge& lag_alert_;
  pm::Gauge& active_;
  EventHistogram age_;
  EventHistogram latency_;
  pm::Counter& events_;
  pm::Counter& skipped_;
  pm::Counter& errors_;
  bool buffered_;
  ConsumerMetricsOptions options_;
  Owner owner_;
  Tally<std::uint64_t> events_seen_;
  Tally<std::uint64_t> skipped_seen_;
  Tally<std::uint64_t> errors_seen_;
  std::atomic<double> last_age_{std::numeric_limits<double>::quiet_NaN()};  // NaN: none yet
  std::atomic<bool> seen_{false};  // an event since the last refresh
  std::atomic<std::int64_t> last_activity_{0};
};

class PromTableMetrics final : public TableMetrics {
 public:
  PromTableMetrics(pm::Counter& polls, pm::Histogram& poll_duration, pm::Counter& rows,
                   pm::Counter& hits, pm::Counter& misses, pm::Counter& gaps_detected,
                   pm::Counter& gaps_filled, pm::Counter& probes, pm::Counter& probe_ids,
                   pm::Gauge& blocked, pm::Gauge& blocker, pm::Counter& cursor_writes)
      : polls_(polls),
        poll_duration_(poll_duration),
        rows_(rows),
        hits_(hits),
        misses_(misses),
        gaps_detected_(gaps_detected),
        gaps_filled_(gaps_filled),
        probes_(probes),
        probe_ids_(probe_ids),
        blocked_(blocked),
        blocker_(blocker),
        cursor_writes_(cursor_writes) {}

  void on_poll(std::chrono::nanoseconds duration, std::size_t rows) noexcept override {
    polls_.Increment();
    poll_duration_.Observe(seconds(duration));
    rows_.Increment(static_cast<double>(rows));
  }
  void on_cache(bool hit) noexcept override { (hit ? hits_ : misses_).Increment(); }
  void on_gap_detected() noexcept override { gaps_detected_.Increment(); }
  void on_gap_filled() noexcept override { gaps_filled_.Increment(); }
  void on_hole_probe(std::size_t ids) noexcept override {
    probes_.Increment();
    probe_ids_.Increment(static_cast<double>(ids));
  }
  void set_blocked(std::chrono::nanoseconds held) noexcept override { blocked_.Set(seconds(held)); }
  void set_blocker(std::int64_t pid) noexcept override { blocker_.Set(static_cast<double>(pid)); }
  void on_cursor_writes(std::size_t count) noexcept override {
    cursor_writes_.Increment(static_cast<double>(count));
  }

 private:
  pm::Counter& polls_;
  pm::Histogram& poll_duration_;
  pm::Counter& rows_;
  pm::Counter& hits_;
  pm::Counter& misses_;
  pm::Counter& gaps_detected_;
  pm::Counter& gaps_filled_;
  pm::Counter& probes_;
  pm::Counter& probe_ids_;
  pm::Gauge& blocked_;
  pm::Gauge& blocker_;
  pm::Counter& cursor_writes_;
};

class PromShardMetrics final : public ShardMetrics {
 public:
  PromShardMetrics(pm::Gauge& owned, pm::Counter& acquired, pm::Counter& released,
                   pm::Counter& lost)
      : owned_(owned), acquired_(acquired), released_(released), lost_(lost) {}

  void set_owned(bool owned) noexcept override { owned_.Set(owned ? 1 : 0); }
  void on_lease_change(LeaseChange change) noexcept override {
    switch (change) {
      case LeaseChange::acquired:
        acquired_.Increment();
        break;
      case LeaseChange::released:
        released_.Increment();
        break;
      case LeaseChange::lost:
        lost_.Increment();
        break;
    }
  }

 private:
  pm::Gauge& owned_;
  pm::Counter& acquired_;
  pm::Counter& released_;
  pm::Counter& lost_;
};

}  // namespace

struct Metrics::Impl {
  Impl(pm::Registry& registry, MetricsOptions opts)
      : options(std::move(opts)),
        lag(pm::BuildGauge()
                .Name("reflex_consumer_lag_seconds")
                .Help("Age of the last event a consumer handled, in seconds")
                .Register(registry)),
        lag_alert(pm::BuildGauge()
                      .Name("reflex_consumer_lag_alert")
                      .Help("1 when the last event a consumer handled was older than its lag alert")
                      .Register(registry)),
        active(pm::BuildGauge()
                   .Name("reflex_consumer_active")
                   .Help("1 when the consumer handled an event within its activity TTL")
                   .Register(registry)),
        age(pm::BuildHistogram()
                .Name("reflex_consumer_event_age_seconds")
                .Help("Age of events when a consumer handled them, in seconds")
                .Register(registry)),
        latency(pm::BuildHistogram()
                    .Name("reflex_consumer_latency_seconds")
                    .Help("Time a consumer took per event, in seconds")
                    .Register(registry)),
        events(pm::BuildCounter()
                   .Name("reflex_consumer_events_total")
                   .Help("Events a consumer handled successfully")
                   .Register(registry)),
        skipped(pm::BuildCounter()
                    .Name("reflex_consumer_skipped_total")
                    .Help("Events a consumer's filters skipped")
                    .Register(registry)),
        errors(pm::BuildCounter()
                   .Name("reflex_consumer_errors_total")
                   .Help("Events on which a consumer failed")
                   .Register(registry)),
        polls(pm::BuildCounter()
                  .Name("reflex_table_polls_total")
                  .Help("Queries for events on a table")
                  .Register(registry)),
        poll_duration(pm::BuildHistogram()
                          .Name("reflex_table_poll_duration_seconds")
                          .Help("Duration of queries for events, in seconds")
                          .Register(registry)),
        rows(pm::BuildCounter()
                 .Name("reflex_table_rows_loaded_total")
                 .Help("Rows loaded by queries for events")
                 .Register(registry)),
        cache_hits(pm::BuildCounter()
                       .Name("reflex_table_cache_hits_total")
                       .Help("Stream reads served by the shared head cache")
                       .Register(registry)),
        cache_misses(pm::BuildCounter()
                         .Name("reflex_table_cache_misses_total")
                         .Help("Stream reads that had to query the table")
                         .Register(registry)),
        gaps_detected(pm::BuildCounter()
                          .Name("reflex_table_gaps_detected_total")
                          .Help("Holes in the id sequence seen below visible rows")
                          .Register(registry)),
        gaps_filled(pm::BuildCounter()
                        .Name("reflex_table_gaps_filled_total")
                        .Help("Holes that held delivery back and were passed")
                        .Register(registry)),
        probes(pm::BuildCounter()
                   .Name("reflex_table_hole_probes_total")
                   .Help("Hole probes run by readers (MariaDB: transactions; PostgreSQL: "
                         "horizon checks)")
                   .Register(registry)),
        probe_ids(pm::BuildCounter()
                      .Name("reflex_table_hole_probe_ids_total")
                      .Help("Missing ids probed by readers (MariaDB: free ones became no-op rows)")
                      .Register(registry)),
        blocked(pm::BuildGauge()
                    .Name("reflex_table_blocked_seconds")
                    .Help("How long delivery has been held back by an open hole or horizon")
                    .Register(registry)),
        blocker(pm::BuildGauge()
                    .Name("reflex_table_blocker_pid")
                    .Help("The server process (PostgreSQL backend pid) whose open transaction "
                          "holds delivery back; 0 when none or unknown")
                    .Register(registry)),
        cursor_writes(pm::BuildCounter()
                          .Name("reflex_table_cursor_writes_total")
                          .Help("Cursors written to a cursor table")
                          .Register(registry)),
        shard_owned(
            pm::BuildGauge()
                .Name("reflex_shard_owned")
                .Help("1 while this process holds the lease of a shard of a shared consumer")
                .Register(registry)),
        lease_changes(pm::BuildCounter()
                          .Name("reflex_shard_lease_changes_total")
                          .Help("Shard leases this process acquired, released or lost")
                          .Register(registry)) {}

  MetricsOptions options;
  pm::Family<pm::Gauge>& lag;
  pm::Family<pm::Gauge>& lag_alert;
  pm::Family<pm::Gauge>& active;
  pm::Family<pm::Histogram>& age;
  pm::Family<pm::Histogram>& latency;
  pm::Family<pm::Counter>& events;
  pm::Family<pm::Counter>& skipped;
  pm::Family<pm::Counter>& errors;
  pm::Family<pm::Counter>& polls;
  pm::Family<pm::Histogram>& poll_duration;
  pm::Family<pm::Counter>& rows;
  pm::Family<pm::Counter>& cache_hits;
  pm::Family<pm::Counter>& cache_misses;
  pm::Family<pm::Counter>& gaps_detected;
  pm::Family<pm::Counter>& gaps_filled;
  pm::Family<pm::Counter>& probes;
  pm::Family<pm::Counter>& probe_ids;
  pm::Family<pm::Gauge>& blocked;
  pm::Family<pm::Gauge>& blocker;
  pm::Family<pm::Counter>& cursor_writes;
  pm::Family<pm::Gauge>& shard_owned;
  pm::Family<pm::Counter>& lease_changes;

  std::mutex mu;
  // Weak: a recorder dropped by its consumer stops being refreshed.
  std::vector<std::weak_ptr<PromConsumerMetrics>> consumers;
  std::jthread refresher;
};

Metrics::Metrics(pm::Registry& registry, MetricsOptions options)
    : impl_(std::make_unique<Impl>(registry, std::move(options))) {
  const auto interval = impl_->options.refresh_interval;
  if (interval > std::chrono::milliseconds::zero()) {
    impl_->refresher = std::jthread([this, interval](std::stop_token stop) {
      std::mutex mu;
      std::condition_variable_any cv;
      std::unique_lock lock(mu);
      for (;;) {
        cv.wait_for(lock, stop, interval, [] { return false; });
        if (stop.stop_requested()) return;
        refresh();
      }
    });
  }
}

Metrics::~Metrics() {
  if (impl_->refresher.joinable()) {
    impl_->refresher.request_stop();
    impl_->refresher.join();
  }
}

std::shared_ptr<ConsumerMetrics> Metrics::consumer(std::string_view consumer_name,
                                                   const ConsumerMetricsOptions& options) {
  const pm::Labels labels{{"consumer_name", std::string(consumer_name)}};
  auto& i = *impl_;
  std::lock_guard lock(i.mu);
  auto recorder = std::make_shared<PromConsumerMetrics>(
      i.lag.Add(labels), i.lag_alert.Add(labels), i.active.Add(labels),
      i.age.Add(labels, pm::Histogram::BucketBoundaries(i.options.age_buckets)),
      i.options.age_buckets,
      i.latency.Add(labels, pm::Histogram::BucketBoundaries(i.options.latency_buckets)),
      i.options.latency_buckets, i.options.refresh_interval > std::chrono::milliseconds::zero(),
      i.events.Add(labels), i.skipped.Add(labels), i.errors.Add(labels), options);
  i.consumers.push_back(recorder);
  return recorder;
}

std::shared_ptr<TableMetrics> Metrics::table(std::string_view table_name) {
  const pm::Labels labels{{"table", std::string(table_name)}};
  auto& i = *impl_;
  std::lock_guard lock(i.mu);
  return std::make_shared<PromTableMetrics>(
      i.polls.Add(labels),
      i.poll_duration.Add(labels, pm::Histogram::BucketBoundaries(i.options.latency_buckets)),
      i.rows.Add(labels), i.cache_hits.Add(labels), i.cache_misses.Add(labels),
      i.gaps_detected.Add(labels), i.gaps_filled.Add(labels), i.probes.Add(labels),
      i.probe_ids.Add(labels), i.blocked.Add(labels), i.blocker.Add(labels),
      i.cursor_writes.Add(labels));
}

std::shared_ptr<ShardMetrics> Metrics::shard(std::string_view group, std::size_t shard) {
  const pm::Labels labels{{"consumer", std::string(group)}, {"shard", std::to_string(shard)}};
  const auto change = [&](const char* kind) {
    pm::Labels with = labels;
    with.emplace("change", kind);
    return with;
  };
  auto& i = *impl_;
  std::lock_guard lock(i.mu);
  return std::make_shared<PromShardMetrics>(
      i.shard_owned.Add(labels), i.lease_changes.Add(change("acquired")),
      i.lease_changes.Add(change("released")), i.lease_changes.Add(change("lost")));
}

void Metrics::refresh() {
  const auto now = now_ns();
  std::lock_guard lock(impl_->mu);
  std::erase_if(impl_->consumers, [now](const std::weak_ptr<PromConsumerMetrics>& weak) {
    const auto recorder = weak.lock();
    if (recorder) {
      recorder->refresh(now);
      recorder->publish();
    }
    return !recorder;
  });
}

}  // namespace reflex::prometheus
