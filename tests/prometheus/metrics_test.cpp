#include "reflex/prometheus/metrics.hpp"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "reflex/errors.hpp"
#include "reflex/mem_cursor_store.hpp"
#include "reflex/mem_log.hpp"
#include "reflex/run.hpp"
#include "reflex_test/lines.hpp"
#include "reflex_test/wait.hpp"

// The replacement operator new/delete below pair malloc with free by design; GCC cannot see that
// through inlining and warns at every call site of this file.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// Counts heap allocations made by this thread while `counting` is set, to prove that recording an
// event allocates nothing (no label sets built per event).
namespace {
thread_local bool counting = false;
thread_local long allocations = 0;
}  // namespace

void* operator new(std::size_t size) {
  if (counting) ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

using namespace std::chrono_literals;

std::string scrape(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

/// The value of the sample whose line starts with `series` (name and labels), or NaN.
double sample(const std::string& text, const std::string& series) {
  for (const auto& line : reflex_test::lines(text)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nan("");
}

void run_to_head(const reflex::Spec& spec) {
  try {
    reflex::run({}, spec);
  } catch (const reflex::HeadReached&) {
  }
}

TEST(PrometheusMetrics, CountsConsumedSkippedAndFailedEventsPerConsumer) {
  prometheus::Registry registry;
  auto metrics = std::make_shared<reflex::prometheus::Metrics>(
      registry, reflex::prometheus::MetricsOptions{.refresh_interval = 0ms});
  reflex::MemLog log;
  for (int i = 0; i < 5; ++i) log.append(i == 1 ? 2 : 1, "f");  // one event of type 2

  auto consumer = reflex::make_consumer("billing",
                                        [](const reflex::Event& e) {
                                          if (e.id == "4") throw std::runtime_error("fail once");
                                        },
                                        {.include_types = {1}, .metrics = metrics});
  reflex::Spec spec{.stream = log.stream_func(),
                    .cursors = std::make_shared<reflex::MemCursorStore>(),
                    .consumer = consumer,
                    .options = {.to_head = true}};
  EXPECT_THROW(reflex::run({}, spec), reflex::ConsumeError);

  const auto text = scrape(registry);
  EXPECT_EQ(sample(text, R"(reflex_consumer_events_total{consumer_name="billing"})"), 2) << text;
  EXPECT_EQ(sample(text, R"(reflex_consumer_skipped_total{consumer_name="billing"})"), 1) << text;
  EXPECT_EQ(sample(text, R"(reflex_consumer_errors_total{consumer_name="billing"})"), 1) << text;
  EXPECT_EQ(sample(text, R"(reflex_consumer_latency_seconds_count{consumer_name="billing"})"), 2)
      << text;
  EXPECT_EQ(sample(text, R"(reflex_consumer_event_age_seconds_count{consumer_name="billing"})"), 4)
      << text;
  EXPECT_EQ(sample(text, R"(reflex_consumer_active{consumer_name="billing"})"), 1) << text;
}

TEST(PrometheusMetrics, LagGaugeAndAlertFollowTheEventAge) {
  prometheus::Registry registry;
  auto metrics = std::make_shared<reflex::prometheus::Metrics>(
      registry, reflex::prometheus::MetricsOptions{.refresh_interval = 0ms});
  reflex::MemLog log;
  log.append(reflex::Event{
      .type = 1, .foreign_id = "old", .timestamp = std::chrono::system_clock::now() - 2h});
  auto spec = [&](const std::string& name, std::chrono::milliseconds alert) {
    return reflex::Spec{.stream = log.stream_func(),
                        .cursors = std::make_shared<reflex::MemCursorStore>(),
                        .consumer = reflex::make_consumer(
                            name, [](const reflex::Event&) {},
                            {.metrics_options = {.lag_alert = alert}, .metrics = metrics}),
                        .options = {.to_head = true}};
  };
  run_to_head(spec("alerting", 1h));
  run_to_head(spec("relaxed", 3h));
  run_to_head(spec("disabled", 0ms));
  const auto text = scrape(registry);
  const double lag = sample(text, R"(reflex_consumer_lag_seconds{consumer_name="alerting"})");
  EXPECT_GE(lag, 7200) << text;
  EXPECT_LT(lag, 7260) << text;
  EXPECT_EQ(sample(text, R"(reflex_consumer_lag_alert{consumer_name="alerting"})"), 1) << text;
  EXPECT_EQ(sample(text, R"(reflex_consumer_lag_alert{consumer_name="relaxed"})"), 0) << text;
  EXPECT_EQ(sample(text, R"(reflex_consumer_lag_alert{consumer_name="disabled"})"), 0) << text;
}

TEST(PrometheusMetrics, ActiveFallsToZeroAfterTheActivityTtl) {
  prometheus::Registry registry;
  reflex::prometheus::Metrics metrics(registry, {.refresh_interval = 0ms});
  auto recorder = metrics.consumer("idle", {.lag_alert = 0ms, .activity_ttl = 100ms});
  recorder->on_consumed(1ms, 1ms);
  metrics.refresh();
  EXPECT_EQ(sample(scrape(registry), R"(reflex_consumer_active{consumer_name="idle"})"), 1);
  std::this_thread::sleep_for(150ms);  // the 100 ms activity TTL passes
  metrics.refresh();
  EXPECT_EQ(sample(scrape(registry), R"(reflex_consumer_active{consumer_name="idle"})"), 0);
}

TEST(PrometheusMetrics, TheBackgroundRefresherUpdatesActiveByItself) {
  prometheus::Registry registry;
  reflex::prometheus::Metrics metrics(registry, {.refresh_interval = 20ms});
  auto recorder = metrics.consumer("idle", {.lag_alert = 0ms, .activity_ttl = 50ms});
  recorder->on_consumed(1ms, 1ms);
  double active = 1;
  EXPECT_TRUE(reflex_test::eventually(
      [&] {
        active = sample(scrape(registry), R"(reflex_consumer_active{consumer_name="idle"})");
        return active == 0;
      },
      1s))
      << "still active: " << active;
}

TEST(PrometheusMetrics, TwoRegistriesInOneProcessAreIndependent) {
  prometheus::Registry a;
  prometheus::Registry b;
  reflex::prometheus::Metrics ma(a, {.refresh_interval = 0ms});
  reflex::prometheus::Metrics mb(b, {.refresh_interval = 0ms});
  ma.consumer("c", {})->on_consumed(1ms, 1ms);
  auto rb = mb.consumer("c", {});
  rb->on_consumed(1ms, 1ms);
  rb->on_consumed(1ms, 1ms);
  EXPECT_EQ(sample(scrape(a), R"(reflex_consumer_events_total{consumer_name="c"})"), 1);
  EXPECT_EQ(sample(scrape(b), R"(reflex_consumer_events_total{consumer_name="c"})"), 2);
}

TEST(PrometheusMetrics, TableMetricsAreLabelledByTable) {
  prometheus::Registry registry;
  reflex::prometheus::Metrics metrics(registry, {.refresh_interval = 0ms});
  auto table = metrics.table("user_events");
  table->on_poll(2ms, 10);
  table->on_poll(3ms, 5);
  table->on_cache(true);
  table->on_cache(false);
  table->on_cache(true);
  table->on_gap_detected();
  table->on_gap_filled();
  table->on_hole_probe(40);
  table->on_hole_probe(2);
  table->set_blocked(1500ms);
  table->set_blocker(4242);
  table->on_cursor_writes(3);
  const auto text = scrape(registry);
  const std::string l = R"({table="user_events"})";
  EXPECT_EQ(sample(text, "reflex_table_polls_total" + l), 2) << text;
  EXPECT_EQ(sample(text, "reflex_table_rows_loaded_total" + l), 15) << text;
  EXPECT_EQ(sample(text, "reflex_table_poll_duration_seconds_count" + l), 2) << text;
  EXPECT_EQ(sample(text, "reflex_table_cache_hits_total" + l), 2) << text;
  EXPECT_EQ(sample(text, "reflex_table_cache_misses_total" + l), 1) << text;
  EXPECT_EQ(sample(text, "reflex_table_gaps_detected_total" + l), 1) << text;
  EXPECT_EQ(sample(text, "reflex_table_gaps_filled_total" + l), 1) << text;
  EXPECT_EQ(sample(text, "reflex_table_hole_probes_total" + l), 2) << text;
  EXPECT_EQ(sample(text, "reflex_table_hole_probe_ids_total" + l), 42) << text;
  EXPECT_DOUBLE_EQ(sample(text, "reflex_table_blocked_seconds" + l), 1.5) << text;
  EXPECT_DOUBLE_EQ(sample(text, "reflex_table_blocker_pid" + l), 4242) << text;
  EXPECT_EQ(sample(text, "reflex_table_cursor_writes_total" + l), 3) << text;
}

TEST(PrometheusMetrics, ShardMetricsShowTheOwnerAndCountLeaseChangesByKind) {
  prometheus::Registry registry;
  reflex::prometheus::Metrics metrics(registry, {.refresh_interval = 0ms});
  auto shard = metrics.shard("mailer", 3);
  shard->on_lease_change(reflex::LeaseChange::acquired);
  shard->set_owned(true);
  auto text = scrape(registry);
  EXPECT_EQ(sample(text, R"(reflex_shard_owned{consumer="mailer",shard="3"})"), 1) << text;
  shard->on_lease_change(reflex::LeaseChange::lost);
  shard->set_owned(false);
  shard->on_lease_change(reflex::LeaseChange::acquired);
  shard->on_lease_change(reflex::LeaseChange::released);
  text = scrape(registry);
  EXPECT_EQ(sample(text, R"(reflex_shard_owned{consumer="mailer",shard="3"})"), 0) << text;
  const auto changes = [&](const std::string& kind) {
    return sample(text, R"(reflex_shard_lease_changes_total{change=")" + kind +
                            R"(",consumer="mailer",shard="3"})");
  };
  EXPECT_EQ(changes("acquired"), 2) << text;
  EXPECT_EQ(changes("released"), 1) << text;
  EXPECT_EQ(changes("lost"), 1) << text;
}

TEST(PrometheusMetrics, AnObserverWithoutShardMetricsRecordsNothingForShards) {
  struct Old final : reflex::MetricsObserver {
    std::shared_ptr<reflex::ConsumerMetrics> consumer(
        std::string_view, const reflex::ConsumerMetricsOptions&) override {
      return reflex::null_consumer_metrics();
    }
    std::shared_ptr<reflex::TableMetrics> table(std::string_view) override {
      return reflex::null_table_metrics();
    }
  } old;
  EXPECT_EQ(old.shard("mailer", 0), reflex::null_shard_metrics());
}

/// The lines of `text` about `name` (its buckets, sum and count).
std::vector<std::string> series_of(const std::string& text, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& line : reflex_test::lines(text)) {
    if (line.rfind(name, 0) == 0) out.push_back(line);
  }
  return out;
}

TEST(PrometheusMetrics, WithARefresherHistogramsArePublishedAtEachRefreshInTheSameBuckets) {
  prometheus::Registry direct_registry;
  prometheus::Registry buffered_registry;
  reflex::prometheus::Metrics direct(direct_registry, {.refresh_interval = 0ms});
  // A refresher that never comes on its own during the test: refresh() is called below.
  reflex::prometheus::Metrics buffered(buffered_registry, {.refresh_interval = 1h});
  auto a = direct.consumer("c", {});
  auto b = buffered.consumer("c", {});
  // Bucket bounds themselves included: a value on a bound belongs to that bound's bucket.
  const std::vector<double> ages{0.0005, 0.001, 0.003, 0.005, 2.0, 7200};
  const std::vector<double> latencies{0.0001, 0.2, 1, 10};
  for (std::size_t i = 0; i < ages.size(); ++i) {
    const auto age = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(ages[i]));
    const auto latency = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(latencies[i % latencies.size()]));
    a->on_consumed(age, latency);
    b->on_consumed(age, latency);
  }
  const std::string count = R"(reflex_consumer_event_age_seconds_count{consumer_name="c"})";
  EXPECT_EQ(sample(scrape(buffered_registry), count), 0) << "published before a refresh";
  buffered.refresh();
  const auto want = scrape(direct_registry);
  const auto got = scrape(buffered_registry);
  EXPECT_EQ(sample(got, count), 6) << got;
  for (const char* name :
       {"reflex_consumer_event_age_seconds", "reflex_consumer_latency_seconds"}) {
    EXPECT_FALSE(series_of(want, name).empty()) << name;
    EXPECT_EQ(series_of(got, name), series_of(want, name)) << name;
  }
  // What came after a refresh goes out with the next, or when the recorder is dropped.
  b->on_consumed(1ms, 1ms);
  b.reset();
  EXPECT_EQ(sample(scrape(buffered_registry), count), 7);
}

TEST(PrometheusMetrics, WithARefresherCountersAndGaugesArePublishedAtEachRefresh) {
  prometheus::Registry registry;
  // A refresher that never comes on its own during the test: refresh() is called below.
  reflex::prometheus::Metrics metrics(registry, {.refresh_interval = 1h});
  auto recorder = metrics.consumer("c", {.lag_alert = 1h});
  recorder->on_consumed(1ms, 1ms);
  recorder->on_consumed(1ms, 1ms);
  recorder->on_skipped(1ms);
  recorder->on_error(2h);
  const std::string l = R"({consumer_name="c"})";
  auto text = scrape(registry);
  EXPECT_EQ(sample(text, "reflex_consumer_events_total" + l), 0) << "published before a refresh";
  EXPECT_EQ(sample(text, "reflex_consumer_lag_seconds" + l), 0) << text;
  metrics.refresh();
  text = scrape(registry);
  EXPECT_EQ(sample(text, "reflex_consumer_events_total" + l), 2) << text;
  EXPECT_EQ(sample(text, "reflex_consumer_skipped_total" + l), 1) << text;
  EXPECT_EQ(sample(text, "reflex_consumer_errors_total" + l), 1) << text;
  EXPECT_DOUBLE_EQ(sample(text, "reflex_consumer_lag_seconds" + l), 7200) << text;
  EXPECT_EQ(sample(text, "reflex_consumer_lag_alert" + l), 1) << text;
  EXPECT_EQ(sample(text, "reflex_consumer_active" + l), 1) << text;
  // A refresh with nothing new keeps the totals; the next event moves the lag and the alert.
  metrics.refresh();
  recorder->on_consumed(2s, 1ms);
  metrics.refresh();
  text = scrape(registry);
  EXPECT_EQ(sample(text, "reflex_consumer_events_total" + l), 3) << text;
  EXPECT_DOUBLE_EQ(sample(text, "reflex_consumer_lag_seconds" + l), 2) << text;
  EXPECT_EQ(sample(text, "reflex_consumer_lag_alert" + l), 0) << text;
}

TEST(PrometheusMetrics, EventsRecordedFromSeveralThreadsWhileRefreshingAreEachCountedOnce) {
  // The first thread to record owns the recorder's fast path; the others take the atomic one.
  // Refreshes run all along, as the background refresher does.
  prometheus::Registry registry;
  reflex::prometheus::Metrics metrics(registry, {.refresh_interval = 1h});
  auto recorder = metrics.consumer("c", {});
  constexpr int kThreads = 4;
  constexpr int kEach = 50000;
  std::atomic<int> done{0};
  std::vector<std::jthread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) recorder->on_consumed(1ms, 10us);
      ++done;
    });
  }
  while (done.load() < kThreads) metrics.refresh();
  threads.clear();
  metrics.refresh();
  const auto text = scrape(registry);
  const std::string l = R"({consumer_name="c"})";
  constexpr double kAll = kThreads * kEach;
  EXPECT_EQ(sample(text, "reflex_consumer_events_total" + l), kAll) << text;
  EXPECT_EQ(sample(text, "reflex_consumer_event_age_seconds_count" + l), kAll) << text;
  EXPECT_EQ(
      sample(text, R"(reflex_consumer_event_age_seconds_bucket{consumer_name="c",le="0.001"})"),
      kAll)
      << text;
  EXPECT_NEAR(sample(text, "reflex_consumer_event_age_seconds_sum" + l), kAll * 0.001, 1e-6)
      << text;
  EXPECT_NEAR(sample(text, "reflex_consumer_latency_seconds_sum" + l), kAll * 10e-6, 1e-6) << text;
}

TEST(PrometheusMetrics, RecordingAnEventAllocatesNothing) {
  // Histograms observed at once (no refresher) and buffered for the refresher alike.
  for (const auto refresh : {0ms, std::chrono::milliseconds(1h)}) {
    prometheus::Registry registry;
    reflex::prometheus::Metrics metrics(registry, {.refresh_interval = refresh});
    auto consumer = metrics.consumer("hot", {});
    auto table = metrics.table("hot_table");
    counting = true;
    allocations = 0;
    for (int i = 0; i < 1000; ++i) {
      consumer->on_consumed(1ms, 10us);
      consumer->on_skipped(1ms);
      table->on_poll(1ms, 100);
      table->on_cache(true);
    }
    counting = false;
    EXPECT_EQ(allocations, 0) << "refresh interval " << refresh.count() << " ms";
  }
}

}  // namespace
