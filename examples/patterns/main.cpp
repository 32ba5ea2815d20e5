// The consumption patterns of reflex::rpatterns, and consumer metrics, on an in-memory log: each
// section is a sample of docs/rpatterns.md or docs/core.md, run to its end and checked.
//
//   patterns
//
// Sections that need a module this build lacks (reflex::prometheus; reflex::rsql with SQLite,
// for the SQL cursor and dead-letter tables) are left out.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <reflex/reflex.hpp>
#include <reflex/rpatterns/rpatterns.hpp>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>
#ifdef REFLEX_EXAMPLE_PROMETHEUS
#include <prometheus/registry.h>

#include <reflex/prometheus/metrics.hpp>
#endif
#ifdef REFLEX_EXAMPLE_SQLITE
#include <reflex/rsql/rsql.hpp>
#endif

// [snippet:namespace]
namespace rp = reflex::rpatterns;
// [end snippet]
using namespace std::chrono_literals;
using std::chrono::steady_clock;

namespace {

enum class Order { Placed = 1, Paid = 2, Shipped = 3 };

constexpr int kEvents = 20;

/// 20 events of 5 orders: "order-0" .. "order-4", placed, paid, shipped, placed, ...
reflex::MemLog orders() {
  reflex::MemLog log;
  for (int i = 0; i < kEvents; ++i) log.append(1 + i % 3, "order-" + std::to_string(i % 5));
  return log;
}

void check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
  std::cout << "ok: " << what << std::endl;
}

/// Runs a to_head spec until the head.
void run_to_head(const reflex::Spec& spec) {
  try {
    reflex::run({}, spec);
  } catch (const reflex::HeadReached&) {
  }
}

/// The parts each sample shares: a log, its stream, a cursor store, a stop token.
struct World {
  reflex::MemLog log = orders();
  reflex::StreamFunc stream = log.stream_func();
  std::shared_ptr<reflex::MemCursorStore> cursors = std::make_shared<reflex::MemCursorStore>();
  std::stop_source source;
  std::stop_token stop = source.get_token();
};

#ifdef REFLEX_EXAMPLE_PROMETHEUS
void metrics() {
  World w;
  const auto fn = [](const reflex::Event&) {};
  // [snippet:metrics]
  prometheus::Registry registry;
  auto metrics = std::make_shared<reflex::prometheus::Metrics>(registry);
  auto consumer = reflex::make_consumer(
      "mailer", fn, {.metrics_options = {.lag_alert = 5min}, .metrics = metrics});
  // [end snippet]
  run_to_head({.stream = w.stream,
               .cursors = w.cursors,
               .consumer = consumer,
               .options = {.to_head = true}});
  // Per-event metrics go out at each refresh (every second); refresh() publishes them now.
  metrics->refresh();
  bool counted = false;
  for (const auto& family : registry.Collect()) {
    if (family.name == "reflex_consumer_events_total") {
      counted = !family.metric.empty() && family.metric[0].counter.value == kEvents;
    }
  }
  check(counted, "metrics: reflex_consumer_events_total counts every event");
}
#endif

void runners() {
  World w;
  std::atomic<int> seen = 0;
  auto consumer = reflex::make_consumer("runner", [&](const reflex::Event&) { ++seen; });
  reflex::Spec spec{.stream = w.stream,
                    .cursors = w.cursors,
                    .consumer = consumer,
                    .options = {.to_head = true}};  // so that the demo ends
  const auto stop = w.stop;
  {
    // [snippet:runner]
    rp::Runner runner(spec, {.retry_backoff = 100ms, .error_backoff = 1min});  // until destroyed
    // [end snippet]
    runner.join();  // a to_head spec ends at the head
  }
  check(seen == kEvents, "Runner: ran the spec to the head");
  w.log.append(1, "order-5");
  // [snippet:run-forever]
  rp::RunEnd end = rp::run_forever(stop, spec);  // or on a thread of yours
  // [end snippet]
  check(end == rp::RunEnd::head_reached && seen == kEvents + 1,
        "run_forever: resumed after the cursor and ended at the head");
}

void backfill() {
  World w;
  reflex::Spec spec{.stream = w.stream,
                    .cursors = w.cursors,
                    .consumer = reflex::make_consumer("reindex", [](const reflex::Event&) {})};
  const auto print = [](const rp::BackfillProgress& p) {
    std::cout << "  backfill: " << p.events << " events, cursor " << p.cursor << std::endl;
  };
  const auto stop = w.stop;
  // [snippet:backfill]
  auto summary = rp::backfill(stop, spec, {.on_progress = print, .progress_interval = 1s});
  // [end snippet]
  check(summary.reached_head && summary.events == kEvents && summary.cursor == "20",
        "backfill: every event once, to the head");
}

void ack() {
  World w;
  std::vector<std::string> uploaded;
  const auto upload = [&](const reflex::Event& e) {
    uploaded.push_back(e.id);
    return e.id != "20";  // the last upload fails: not acked, so a restart delivers it again
  };
  const auto& stream = w.stream;
  const auto& cursors = w.cursors;
  // [snippet:ack]
  auto spec =
      rp::ack_spec(stream, cursors, "exporter", [&](std::stop_token, const rp::AckEvent& e) {
        if (upload(e.event())) e.ack();
      });
  // [end snippet]
  spec.options.to_head = true;
  run_to_head(spec);
  check(uploaded.size() == kEvents && cursors->get("exporter") == "19",
        "ack: the cursor is the last acked event");
}

void batch() {
  World w;
  std::vector<std::size_t> sizes;
  const auto bulk_insert = [&](std::span<const reflex::Event> batch) {
    sizes.push_back(batch.size());
  };
  const auto& stream = w.stream;
  const auto& cursors = w.cursors;
  // [snippet:batch]
  auto spec = rp::batch_spec(
      stream, cursors, "warehouse-loader",
      [&](std::stop_token, std::span<const reflex::Event> batch) { bulk_insert(batch); },
      {.max_size = 500, .window = 2s});
  // [end snippet]
  spec.options.to_head = true;  // hands over the last partial batch, then ends
  run_to_head(spec);
  check(sizes == std::vector<std::size_t>{kEvents} && cursors->get("warehouse-loader") == "20",
        "batch: one partial batch of every event, acked");
}

void concurrent() {
  World w;
  std::atomic<int> done = 0;
  auto slow_consumer = reflex::make_consumer("geocoder", [&](const reflex::Event&) {
    std::this_thread::sleep_for(5ms);  // a call to another service
    ++done;
  });
  const auto& stream = w.stream;
  const auto& cursors = w.cursors;
  // [snippet:concurrent]
  auto spec = rp::concurrent({.stream = stream, .cursors = cursors, .consumer = slow_consumer},
                             {.max_in_flight = 16});
  // [end snippet]
  spec.options.to_head = true;  // waits for every event in flight
  run_to_head(spec);
  check(done == kEvents && cursors->get("geocoder") == "20",
        "concurrent: every event, the cursor below every completed one");
}

void parallel() {
  World w;
  std::mutex mu;
  std::set<std::string> seen;  // event ids: each must come once, from one shard
  std::atomic<int> indexed = 0;
  const auto index_fn = [&](std::stop_token, const reflex::Event& e) {
    std::lock_guard lock(mu);
    seen.insert(e.id);
    ++indexed;
  };
  const auto& stream = w.stream;
  const auto& cursors = w.cursors;
  {
    // [snippet:parallel]
    rp::Runner runner(rp::parallel_specs("indexer", 4, stream, cursors, index_fn,
                                         {.shard = {.hash = rp::by_foreign_id()}}));
    // [end snippet]
    while (indexed < kEvents) std::this_thread::sleep_for(1ms);
  }
  const auto names = w.cursors->snapshot();
  check(indexed == kEvents && seen.size() == kEvents && names.contains("indexer_1_of_4") &&
            names.contains("indexer_4_of_4"),
        "parallel: 4 shards with their own cursors took every event once");
}

void bootstrap() {
  World w;
  int seen = 0;
  auto c = reflex::make_consumer("newcomer", [&](const reflex::Event&) { ++seen; });
  const auto& stream = w.stream;
  const auto& cursors = w.cursors;
  // [snippet:bootstrap]
  auto spec = rp::bootstrap(reflex::Spec{.stream = stream, .cursors = cursors, .consumer = c});
  // [end snippet]
  spec.options.to_head = true;
  run_to_head(spec);
  check(seen == 0, "bootstrap: a consumer without a cursor skips the history");
}

/// A paginated pull API: the changes after a cursor, `limit` at a time.
struct ChangesApi {
  std::vector<reflex::Event> changes;
  std::vector<reflex::Event> list_changes(std::string_view after, std::size_t limit) const {
    std::vector<reflex::Event> page;
    for (const auto& e : changes) {
      if ((after.empty() || e.id_int() > std::stoll(std::string(after))) && page.size() < limit)
        page.push_back(e);
    }
    return page;
  }
};

void poller() {
  const ChangesApi api{orders().events()};
  // [snippet:poller]
  reflex::StreamFunc stream = rp::poller([&](std::stop_token, std::string_view after) {
    return api.list_changes(after, /*limit=*/100);
  });
  // [end snippet]
  int seen = 0;
  run_to_head({.stream = stream,
               .cursors = std::make_shared<reflex::MemCursorStore>(),
               .consumer = reflex::make_consumer("puller", [&](const reflex::Event&) { ++seen; }),
               .options = {.to_head = true}});
  check(seen == kEvents, "poller: every page, to the head");
}

void await() {
  World w;
  const auto is_paid = [](std::stop_token) { return false; };  // e.g. a query of the order's state
  std::jthread payer([&] {
    std::this_thread::sleep_for(100ms);
    w.log.append(reflex::type_value(Order::Paid), "order-7");
  });
  const auto& stream = w.stream;
  const auto stop = w.stop;
  // [snippet:await]
  auto r = rp::await(stop, stream,
                     {.foreign_id = "order-7",
                      .types = reflex::types(Order::Paid),
                      .condition = is_paid,
                      .deadline = steady_clock::now() + 30s});
  // [end snippet]
  check(r == rp::AwaitResult::event, "await: the event of order-7 ended the wait");
}

void best_effort() {
  World w;
  int pushed = 0;
  const auto notify = [&](const reflex::Event& e) {
    if (e.id == "3") throw std::runtime_error("push service said no");
    ++pushed;
  };
  // [snippet:best-effort]
  auto c =
      rp::best_effort(reflex::make_consumer("push", notify), {.retries = 3, .retry_delay = 200ms});
  // [end snippet]
  run_to_head(
      {.stream = w.stream, .cursors = w.cursors, .consumer = c, .options = {.to_head = true}});
  check(pushed == kEvents - 1 && c->skipped() == 1, "best_effort: one event skipped after retries");
}

#ifdef REFLEX_EXAMPLE_SQLITE
/// An SQLite database of its own, removed at the end.
struct TempDb {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("reflex-patterns-" + std::to_string(getpid()) + ".db");
  std::shared_ptr<reflex::rsql::Database> db =
      reflex::rsql::Database::open("sqlite://" + path.string());
  ~TempDb() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  }
};

void cursor_stores() {
  TempDb temp;
  temp.db->create_cursors_table();
  auto sql_cursors = std::make_shared<reflex::rsql::CursorsTable>(temp.db);
  // [snippet:read-through]
  auto seed = std::make_shared<reflex::MemCursorStore>(
      std::map<std::string, std::string, std::less<>>{{"new-consumer", "1200"}});
  auto cursors = std::make_shared<rp::ReadThroughCursorStore>(sql_cursors, seed);
  // [end snippet]
  check(cursors->get("new-consumer") == "1200" && sql_cursors->get("new-consumer") == "1200",
        "ReadThroughCursorStore: the seed is read through and written to the primary");
}

void dead_letter() {
  World w;
  TempDb temp;
  const auto& db = temp.db;
  db->create_errors_table();
  const auto bill = [](const reflex::Event& e) {
    if (e.id == "5") throw std::runtime_error("card declined");
  };
  // [snippet:dead-letter]
  reflex::rsql::ErrorsTable errors(db);  // the SQL dead-letter table
  auto c = rp::dead_letter(reflex::make_consumer("billing", bill), rp::record_to(errors),
                           {.retries = 5});
  // Or any recorder: [&](std::stop_token, const rp::DeadLetter& d) { ... d.event.id ... }
  // [end snippet]
  run_to_head(
      {.stream = w.stream, .cursors = w.cursors, .consumer = c, .options = {.to_head = true}});
  const auto recorded = errors.list("billing");
  check(c->recorded() == 1 && recorded.size() == 1 && recorded[0].event_id == "5" &&
            w.cursors->get("billing") == "20",
        "dead_letter: the failed event recorded, the run went on");
}
#endif

}  // namespace

int main() {
  try {
#ifdef REFLEX_EXAMPLE_PROMETHEUS
    metrics();
#endif
    runners();
    backfill();
    ack();
    batch();
    concurrent();
    parallel();
    bootstrap();
    poller();
    await();
    best_effort();
#ifdef REFLEX_EXAMPLE_SQLITE
    cursor_stores();
    dead_letter();
#endif
  } catch (const std::exception& e) {
    std::cerr << "patterns: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
