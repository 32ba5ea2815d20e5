// S3, L1, L2, I1: streams at the head — queries per second, commit-to-consumer latency, idle cost.
#include <libpq-fe.h>

#include <atomic>
#include <pqxx/pqxx>
#include <thread>

#include "reflex/mem_cursor_store.hpp"
#include "reflex/reflex.hpp"
#include "reflex/rgrpc/client.hpp"
#include "reflex/rgrpc/server.hpp"
#include "reflex/rnats/rnats.hpp"
#include "reflex/rsql/postgres.hpp"
#include "reflex/rsql/rsql.hpp"
#include "relayed_table.hpp"
#include "scenarios.hpp"

namespace bench {
namespace {

using namespace std::chrono_literals;
using reflex::rsql::Database;
using reflex::rsql::EventsTable;
using reflex::rsql::NewEvent;

/// Counts a table's polls (one query each).
class PollCounter final : public reflex::MetricsObserver {
 public:
  std::shared_ptr<reflex::ConsumerMetrics> consumer(
      std::string_view, const reflex::ConsumerMetricsOptions&) override {
    return reflex::null_consumer_metrics();
  }
  std::shared_ptr<reflex::TableMetrics> table(std::string_view) override { return table_; }
  [[nodiscard]] std::uint64_t polls() const { return table_->polls.load(); }

 private:
  struct Table final : reflex::TableMetrics {
    std::atomic<std::uint64_t> polls{0};
    void on_poll(std::chrono::nanoseconds, std::size_t) noexcept override { ++polls; }
  };
  std::shared_ptr<Table> table_ = std::make_shared<Table>();
};

/// Writes `count` events at `rate` per second from its own table object (so readers are woken
/// across "processes": by NOTIFY, not in-process); records when each commit returned.
class Writer {
 public:
  Writer(const Config& cfg, const std::string& table, bool notify, int count, int rate)
      : events_(Database::open(cfg.pg_dsn),
                {.schema = {.table = table}, .cross_process_notify = notify}),
        conn_(cfg.pg_dsn),
        committed_(static_cast<std::size_t>(count)) {
    thread_ = std::jthread([this, count, rate](std::stop_token stop) {
      const auto start = Clock::now();
      for (int i = 0; i < count && !stop.stop_requested(); ++i) {
        std::this_thread::sleep_until(start + std::chrono::microseconds(1000000LL * i / rate));
        pqxx::work w(conn_);
        const auto notify = events_.insert(w, NewEvent{.foreign_id = std::to_string(i), .type = 1});
        w.commit();
        committed_[static_cast<std::size_t>(i)] = Clock::now();
        notify();
      }
    });
  }
  void join() { thread_.join(); }
  [[nodiscard]] const std::vector<Clock::time_point>& committed() const { return committed_; }

 private:
  EventsTable events_;
  pqxx::connection conn_;
  std::vector<Clock::time_point> committed_;
  std::jthread thread_;
};

struct Latency {
  double p50 = 0, p99 = 0;
};

/// p50 and p99 of seen - committed per event; an event never seen fails the scenario (it would
/// otherwise count as no latency at all).
Latency latency_of(const std::vector<Clock::time_point>& seen,
                   const std::vector<Clock::time_point>& committed) {
  std::vector<double> ms;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    if (seen[i] == Clock::time_point{})
      throw std::runtime_error("event " + std::to_string(i) + " never arrived");
    ms.push_back(
        std::max(0.0, std::chrono::duration<double, std::milli>(seen[i] - committed[i]).count()));
  }
  return {.p50 = percentile(ms, 50), .p99 = percentile(ms, 99)};
}

/// Commit → consumer latency of `count` events at 200/s, read through `stream`.
Latency measure(const Config& cfg, const std::string& table, bool notify,
                const reflex::StreamFunc& stream, int count) {
  std::vector<Clock::time_point> seen(static_cast<std::size_t>(count));
  std::stop_source stop;
  std::atomic<bool> open{false};
  std::jthread reader([&] {
    auto client = stream(stop.get_token(), "", {.from_head = true});
    open = true;
    try {
      for (int got = 0; got < count; ++got) {
        const auto e = client->recv();
        seen[static_cast<std::size_t>(std::stoi(e.foreign_id))] = Clock::now();
      }
    } catch (const std::exception&) {
    }
  });
  while (!open) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(200ms);  // the stream is at the head and idle
  Writer writer(cfg, table, notify, count, 200);
  writer.join();
  const auto deadline = Clock::now() + 5s;
  while (Clock::now() < deadline && seen.back() == Clock::time_point{})
    std::this_thread::sleep_for(5ms);
  stop.request_stop();
  reader.join();
  return latency_of(seen, writer.committed());
}

/// The L2 baseline: a plain poller that reads after its cursor every 100 ms (libpq).
Latency plain_poller(const Config& cfg, const std::string& table, int count) {
  std::vector<Clock::time_point> seen(static_cast<std::size_t>(count));
  std::jthread reader([&](std::stop_token stop) {
    PGconn* conn = PQconnectdb(cfg.pg_dsn.c_str());
    const std::string sql = "SELECT id, foreign_id FROM " + table + " WHERE id > $1 ORDER BY id";
    std::int64_t after = 0;
    PGresult* head = PQexec(conn, ("SELECT COALESCE(MAX(id), 0) FROM " + table).c_str());
    after = std::strtoll(PQgetvalue(head, 0, 0), nullptr, 10);
    PQclear(head);
    while (!stop.stop_requested()) {
      const std::string a = std::to_string(after);
      const char* params[] = {a.c_str()};
      PGresult* r = PQexecParams(conn, sql.c_str(), 1, nullptr, params, nullptr, nullptr, 0);
      const auto now = Clock::now();
      for (int i = 0; i < PQntuples(r); ++i) {
        after = std::strtoll(PQgetvalue(r, i, 0), nullptr, 10);
        seen[static_cast<std::size_t>(std::atoi(PQgetvalue(r, i, 1)))] = now;
      }
      PQclear(r);
      std::this_thread::sleep_for(100ms);
    }
    PQfinish(conn);
  });
  std::this_thread::sleep_for(200ms);
  Writer writer(cfg, table, false, count, 200);
  writer.join();
  std::this_thread::sleep_for(300ms);
  reader.request_stop();
  reader.join();
  return latency_of(seen, writer.committed());
}

Row latency_row(const std::string& name, const std::vector<Latency>& runs, bool goal) {
  std::vector<double> p50, p99;
  for (const auto& l : runs) {
    p50.push_back(l.p50);
    p99.push_back(l.p99);
  }
  Row row{.id = "L1", .name = name, .unit = "ms p99"};
  row.reflex = median(p99);
  char note[64];
  std::snprintf(note, sizeof note, "p50 %.2f ms", median(p50));
  row.note = note;
  if (goal) {
    row.goal = "p50≤2 p99≤10";
    row.met = median(p50) <= 2.0 && median(p99) <= 10.0;
  } else {
    row.goal = "(reported)";
    row.met = true;
  }
  return row;
}

void l1_l2(const Config& cfg, std::vector<Row>& rows) {
  const int count = cfg.quick ? 400 : 2000;  // at 200/s: 2 s or 10 s per run
  if (cfg.wants("L1")) {
    log("L1 direct");
    std::vector<Latency> direct, grpc, nats;
    for (int i = 0; i < kLatencyRuns; ++i) {
      const auto table = fresh_table(cfg, "bench_l1");
      const EventsTable reader(Database::open(cfg.pg_dsn), {.schema = {.table = table}});
      direct.push_back(measure(cfg, table, true, reader.stream_func(), count));
    }
    rows.push_back(
        latency_row("commit→consumer latency, PG notify, 200 ev/s, direct", direct, true));
    log("L1 via gRPC");
    for (int i = 0; i < kLatencyRuns; ++i) {
      const auto table = fresh_table(cfg, "bench_l1");
      const EventsTable source(Database::open(cfg.pg_dsn), {.schema = {.table = table}});
      reflex::rgrpc::Server server(source.stream_func());
      grpc.push_back(measure(cfg, table, true,
                             reflex::rgrpc::stream_func({.target = server.address()}), count));
    }
    rows.push_back(latency_row("commit→consumer latency, via rgrpc (loopback)", grpc, false));
    log("L1 via JetStream");
    reflex::rnats::Connection conn({.url = cfg.nats_url, .name = "bench"});
    for (int i = 0; i < kLatencyRuns; ++i) {
      const RelayedTable relayed(cfg, conn, "bench_l1", i);
      nats.push_back(measure(cfg, relayed.table(), true,
                             reflex::rnats::stream_func(conn, {.stream = relayed.stream()}),
                             count));
    }
    rows.push_back(latency_row("commit→consumer latency, via relay + JetStream", nats, false));
  }
  if (cfg.wants("L2")) {
    log("L2");
    // Rounds of 5 s (1,000 events at 200/s) so that the three variants fit kMinRounds rounds.
    const int l2_count = cfg.quick ? 400 : 1000;
    const auto measured = compare(
        cfg, {[&] { return plain_poller(cfg, fresh_table(cfg, "bench_l2"), l2_count).p99; },
              [&] {
                const auto table = fresh_table(cfg, "bench_l2");
                const EventsTable reader(Database::open(cfg.pg_dsn), {.schema = {.table = table}});
                return measure(cfg, table, true, reader.stream_func(), l2_count).p99;
              },
              [&] {
                const auto table = fresh_table(cfg, "bench_l2");
                const EventsTable reader(
                    Database::open(cfg.pg_dsn),
                    {.schema = {.table = table}, .cross_process_notify = false});
                return measure(cfg, table, false, reader.stream_func(), l2_count).p99;
              }});
    auto row = ratio_row("L2", "latency p99: notify (raw: plain 100 ms poller)", "ms p99", measured,
                         0.10, true);
    char note[96];
    std::snprintf(note, sizeof note, "reflex with notify off (adaptive poll): p99 %.2f ms",
                  measured.value(2).median);
    row.note = note;
    rows.push_back(row);
  }
}

void s3(const Config& cfg, std::vector<Row>& rows) {
  if (!cfg.wants("S3")) return;
  log("S3");
  const int count = cfg.quick ? 400 : 1000;  // 2 s or 5 s at 200/s, kMinRounds rounds of each
  const auto run = [&](int consumers) {
    const auto table = fresh_table(cfg, "bench_s3");
    auto counter = std::make_shared<PollCounter>();
    const EventsTable source(Database::open(cfg.pg_dsn),
                             {.schema = {.table = table}, .metrics = counter});
    std::stop_source stop;
    std::atomic<int> done{0};
    std::vector<std::jthread> readers;
    for (int c = 0; c < consumers; ++c) {
      readers.emplace_back([&] {
        auto client = source.stream(stop.get_token(), "", {});
        try {
          for (int i = 0; i < count; ++i) (void)client->recv();
        } catch (const std::exception&) {
        }
        ++done;
      });
    }
    std::this_thread::sleep_for(300ms);
    const auto before = counter->polls();
    const auto start = Clock::now();
    Writer writer(cfg, table, true, count, 200);
    writer.join();
    while (done < consumers && Clock::now() - start < 30s) std::this_thread::sleep_for(5ms);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const double qps = static_cast<double>(counter->polls() - before) / seconds;
    stop.request_stop();
    return qps;
  };
  rows.push_back(ratio_row("S3", "queries/s: 4 consumers at the head, 200 ev/s (raw: 1 consumer)",
                           "q/s", compare(cfg, {[&] { return run(1); }, [&] { return run(4); }}),
                           1.2, true));
}

void i1(const Config& cfg, std::vector<Row>& rows) {
  if (!cfg.wants("I1")) return;
  log("I1");
  const auto window = cfg.quick ? 10s : 60s;
  const auto table = fresh_table(cfg, "bench_i1");
  auto counter = std::make_shared<PollCounter>();
  const EventsTable source(Database::open(cfg.pg_dsn),
                           {.schema = {.table = table}, .metrics = counter});
  source.publish(std::vector<NewEvent>{{.foreign_id = "seed", .type = 1}});
  std::stop_source stop;
  std::vector<std::jthread> threads;
  // 4 consumers with cursors.
  for (int c = 0; c < 4; ++c) {
    threads.emplace_back([&, c] {
      try {
        reflex::run(stop.get_token(),
                    reflex::Spec{.stream = source.stream_func(),
                                 .cursors = std::make_shared<reflex::MemCursorStore>(),
                                 .consumer = reflex::make_consumer("idle-" + std::to_string(c),
                                                                   [](const reflex::Event&) {}),
                                 .options = {}});
      } catch (const std::exception&) {
      }
    });
  }
  // serve, with one remote follower.
  reflex::rgrpc::Server server(source.stream_func());
  threads.emplace_back([&] {
    try {
      auto client =
          reflex::rgrpc::stream_func({.target = server.address()})(stop.get_token(), "", {});
      for (;;) (void)client->recv();
    } catch (const std::exception&) {
    }
  });
  // relay into JetStream.
  reflex::rnats::Connection conn({.url = cfg.nats_url, .name = "bench-idle"});
  const std::string stream = "BENCH_I1_" + std::to_string(::getpid());
  reflex::rnats::ensure_stream(
      conn,
      {.name = stream, .subjects = {stream + ".>"}, .storage = reflex::rnats::Storage::memory});
  reflex::rnats::Relay relay(conn, {.name = "idle",
                                    .source = source.stream_func(),
                                    .stream = stream,
                                    .subject = stream + ".events",
                                    .start_after = ""});
  threads.emplace_back([&] {
    try {
      relay.run(stop.get_token());
    } catch (const std::exception&) {
    }
  });
  std::this_thread::sleep_for(2s);  // everything caught up and idle
  const double cpu0 = cpu_seconds();
  const auto polls0 = counter->polls();
  const auto start = Clock::now();
  std::this_thread::sleep_for(window);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = (cpu_seconds() - cpu0) / seconds * 100.0;
  const double qps = static_cast<double>(counter->polls() - polls0) / seconds;
  stop.request_stop();
  server.stop();
  threads.clear();
  reflex::rnats::delete_stream(conn, stream);
  const std::string what =
      "idle: serve + relay + 4 consumers, " + std::to_string(window.count()) + " s";
  Row cpu_row{.id = "I1", .name = what + ": CPU", .unit = "% core", .goal = "<1%"};
  cpu_row.reflex = cpu;
  cpu_row.met = cpu < 1.0;
  Row q_row{.id = "I1", .name = what + ": queries/s on the table", .unit = "q/s", .goal = "≤1"};
  q_row.reflex = qps;
  q_row.met = qps <= 1.0;
  rows.push_back(cpu_row);
  rows.push_back(q_row);
}

}  // namespace

std::string fresh_table(const Config& cfg, const std::string& prefix) {
  static int n = 0;
  const std::string table = prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(++n);
  Database::open(cfg.pg_dsn)->create_events_table({.table = table});
  return table;
}

void head_scenarios(const Config& config, std::vector<Row>& rows) {
  s3(config, rows);
  l1_l2(config, rows);
  i1(config, rows);
}

}  // namespace bench
