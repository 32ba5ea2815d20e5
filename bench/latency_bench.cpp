// L3, L4, F1: what a consumer in another process sees. L3 and L4 measure commit → consumer
// latency at 2,000 events/s from 8 producers (each its own connection and events-table object,
// so readers are woken across processes, by NOTIFY): L3 through the relay into JetStream, L4 from
// PostgreSQL directly. Each has a floor measured in the same run: the same load written by hand
// without reflex (a prepared INSERT and a NOTIFY per event; for L3 a relay that publishes what it
// reads and an ordered consumer). The consumer is this binary re-run with --latency-child; it
// prints "ready" once its stream is open, then, at the end, when each event arrived. Commit times
// are taken when commit() returns; both processes read steady_clock (CLOCK_MONOTONIC, one clock for
// the whole machine on Linux). F1 spawns `reflexctl serve` with 100 gRPC followers of one table at
// 1,000 events/s: every follower must get every event, in order; the serve process's RSS before and
// after the followers gives the memory a follower costs.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "raw_nats.hpp"
#include "reflex/reflex.hpp"
#include "reflex/rgrpc/client.hpp"
#include "reflex/rnats/rnats.hpp"
#include "reflex/rsql/postgres.hpp"
#include "reflex/rsql/rsql.hpp"
#include "relayed_table.hpp"
#include "scenarios.hpp"

extern char** environ;

// Where the build put reflexctl (bench/CMakeLists.txt); without it, the one on PATH.
#ifndef REFLEX_BENCH_REFLEXCTL
#define REFLEX_BENCH_REFLEXCTL "reflexctl"
#endif

namespace bench {
namespace {

using namespace std::chrono_literals;
using reflex::rsql::Database;
using reflex::rsql::EventsTable;
using reflex::rsql::EventsTableOptions;
using reflex::rsql::NewEvent;

/// The channel of L4's hand-written floor.
std::string raw_channel(const std::string& table) {
  return "bench_raw_" + table;
}

std::int64_t steady_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

/// The floors' reader of a table the hand-written producers write: LISTENs on their channel and
/// hands over, in order, the contiguous run of ids after the last one it handed over (the
/// floors roll nothing back, so every id commits), which keeps order and skips nothing without
/// any gap safety: what reflex's stream does, at the least cost.
/// Thread-safety: one thread. Lifetime: its connection's.
class ContiguousReader final {
 public:
  ContiguousReader(const std::string& dsn, const std::string& table)
      : conn_(dsn), woken_(conn_, raw_channel(table)) {
    conn_.prepare("after",
                  "SELECT id, foreign_id FROM " + table + " WHERE id > $1 ORDER BY id LIMIT 1000");
    conn_.get_notifs();
  }

  /// Hands `deliver` the foreign id of each new row of the contiguous run.
  template <typename Deliver>
  void read(Deliver&& deliver) {
    for (bool more = true; more;) {
      pqxx::nontransaction tx(conn_);
      const auto rows = tx.exec_prepared("after", last_);
      for (const auto& row : rows) {
        const auto id = row[0].as<std::int64_t>();
        if (id != last_ + 1) break;  // a hole: wait for the next NOTIFY
        last_ = id;
        deliver(row[1].as<std::string>());
      }
      more = rows.size() == 1000 && rows.back()[0].as<std::int64_t>() == last_;
    }
  }

  /// Waits for the next NOTIFY, or `timeout`.
  void wait(std::chrono::microseconds timeout) {
    conn_.await_notification(static_cast<long>(timeout.count() / 1000000),
                             static_cast<long>(timeout.count() % 1000000));
  }

 private:
  struct Woken final : pqxx::notification_receiver {
    using pqxx::notification_receiver::notification_receiver;
    void operator()(const std::string&, int) override {}
  };
  pqxx::connection conn_;
  Woken woken_;
  std::int64_t last_ = 0;
};

/// `producers` threads inserting `count` events in all at `rate` per second, event g (its
/// foreign id) due at start + g / rate; each producer has its own connection and events-table
/// object (with cross-process notify). Records when each commit returned (steady nanoseconds).
class Producers {
 public:
  /// `hand_written`: no reflex, the floor: a prepared INSERT of the event row, and after the
  /// commit, on the same connection, the NOTIFY (not durable, as reflex's) that wakes the
  /// hand-written consumer (raw_channel(table)).
  Producers(const Config& cfg, const std::string& table, int producers, int count, int rate,
            bool hand_written = false)
      : committed_(static_cast<std::size_t>(count)) {
    const auto start = Clock::now() + 50ms;
    for (int k = 0; k < producers; ++k) {
      threads_.emplace_back([this, &cfg, table, k, producers, count, rate, start, hand_written] {
        std::optional<EventsTable> events;
        if (!hand_written)
          events.emplace(Database::open(cfg.pg_dsn),
                         EventsTableOptions{.schema = {.table = table}});
        pqxx::connection conn(cfg.pg_dsn);
        const std::string channel = raw_channel(table);
        if (hand_written) {
          conn.prepare("insert", "INSERT INTO " + table + " (foreign_id, type) VALUES ($1, 1)");
          conn.prepare("notify",
                       "SELECT pg_notify($1, ''), set_config('synchronous_commit', 'off', true)");
        }
        for (int g = k; g < count; g += producers) {
          std::this_thread::sleep_until(start + std::chrono::microseconds(1000000LL * g / rate));
          pqxx::work w(conn);
          std::function<void()> notify;
          if (hand_written) {
            w.exec_prepared("insert", std::to_string(g));
          } else {
            notify = events->insert(w, NewEvent{.foreign_id = std::to_string(g), .type = 1});
          }
          w.commit();
          committed_[static_cast<std::size_t>(g)] = steady_nanos();
          if (hand_written) {
            pqxx::nontransaction(conn).exec_prepared("notify", channel);
          } else {
            notify();
          }
        }
      });
    }
  }
  void join() { threads_.clear(); }
  [[nodiscard]] const std::vector<std::int64_t>& committed() const { return committed_; }

 private:
  std::vector<std::int64_t> committed_;
  std::vector<std::jthread> threads_;
};

/// L3's floor relay: a ContiguousReader of the hand-written producers' table, each row
/// published as the relay's message with js_PublishMsgAsync as soon as it is read (nats.c
/// matches the acknowledgements on its own thread); no cursor, no guard on the stream's last
/// message, so no exactly-once: what a relay does at the least cost.
void hand_written_relay(std::stop_token stop, const Config& cfg, const std::string& table,
                        const std::string& stream) {
  const auto nc = nats_connect(cfg.nats_url);
  const auto js = jetstream(nc.get());
  ContiguousReader reader(cfg.pg_dsn, table);
  const std::string subject = stream + ".events";
  while (!stop.stop_requested()) {
    reader.read(
        [&](const std::string& g) { publish_async(js.get(), relay_like_message(subject, g, "")); });
    reader.wait(100ms);  // then looks at `stop` again
  }
}

struct Latency {
  double p50 = 0, p99 = 0;
};

/// Runs the consumer child on `kind` ("pg", "nats", or the floors' "rawpg" for L4 and "rawnats"
/// for L3, whose producers are then `hand_written`) while the producers write `count` events;
/// p50 / p99 of receipt - commit. An event the child never saw fails the scenario.
Latency cross_process(const Config& cfg, const std::string& kind, const std::string& where,
                      const std::string& table, const std::string& stream_or_table, int count,
                      bool hand_written = false) {
  ChildProcess child(
      {cfg.self, "--latency-child", kind, where, stream_or_table, std::to_string(count)});
  if (const auto line = child.ask(0); line != "ready") {
    throw std::runtime_error("latency child: " + line);
  }
  std::this_thread::sleep_for(200ms);  // the stream is at the head and idle
  Producers producers(cfg, table, 8, count, 2000, hand_written);
  producers.join();
  std::istringstream lines(child.finish());
  std::vector<std::int64_t> seen(static_cast<std::size_t>(count), 0);
  for (long g = 0, at = 0; lines >> g >> at;) {
    if (g >= 0 && g < count) seen[static_cast<std::size_t>(g)] = at;
  }
  std::vector<double> ms;
  for (int g = 0; g < count; ++g) {
    const auto i = static_cast<std::size_t>(g);
    if (seen[i] == 0) throw std::runtime_error("event " + std::to_string(g) + " never arrived");
    ms.push_back(std::max(0.0, static_cast<double>(seen[i] - producers.committed()[i]) / 1e6));
  }
  return {.p50 = percentile(ms, 50), .p99 = percentile(ms, 99)};
}

/// The median p50 and the median p99 of `runs`.
Latency medians(const std::vector<Latency>& runs) {
  std::vector<double> p50, p99;
  for (const auto& l : runs) {
    p50.push_back(l.p50);
    p99.push_back(l.p99);
  }
  return {.p50 = median(p50), .p99 = median(p99)};
}

Row latency_row(const std::string& id, const std::string& name, const std::vector<Latency>& runs,
                double p99_goal) {
  const Latency m = medians(runs);
  Row row{.id = id, .name = name, .unit = "ms p99"};
  row.reflex = m.p99;
  char text[32];
  std::snprintf(text, sizeof text, "p99≤%g", p99_goal);
  row.goal = text;
  row.met = *row.reflex <= p99_goal;
  char note[64];
  std::snprintf(note, sizeof note, "p50 %.2f ms", m.p50);
  row.note = note;
  return row;
}

/// `row` with the median p99 of its floor's `runs` beside it, and their p50 in its note.
Row with_floor(Row row, const std::vector<Latency>& runs) {
  const Latency f = medians(runs);
  row.floor = f.p99;
  char note[64];
  std::snprintf(note, sizeof note, "; floor p50 %.2f ms", f.p50);
  row.note += note;
  return row;
}

void l3_l4(const Config& cfg, std::vector<Row>& rows) {
  const int count = cfg.quick ? 4000 : 20000;  // at 2,000/s: 2 s or 10 s per run
  if (cfg.wants("L3")) {
    log("L3");
    MachineWatch machine;
    machine.sample();
    reflex::rnats::Connection conn({.url = cfg.nats_url, .name = "bench-l3"});
    std::vector<Latency> runs, floor;
    for (int i = 0; i < kLatencyRuns; ++i) {
      {
        const RelayedTable relayed(cfg, conn, "bench_l3", i);
        runs.push_back(
            cross_process(cfg, "nats", cfg.nats_url, relayed.table(), relayed.stream(), count));
      }
      const RelayedTable raw(
          cfg, conn, "bench_l3_raw", i,
          [&cfg](std::stop_token stop, const std::string& table, const std::string& stream) {
            hand_written_relay(std::move(stop), cfg, table, stream);
          });
      floor.push_back(
          cross_process(cfg, "rawnats", cfg.nats_url, raw.table(), raw.stream(), count, true));
    }
    rows.push_back(with_floor(
        latency_row("L3",
                    "commit→consumer in another process, via relay + JetStream, 2,000 ev/s, 8 "
                    "producers (floor: hand-written INSERT and NOTIFY, a relay that LISTENs and "
                    "publishes contiguous ids async, an ordered consumer)",
                    runs, 10),
        floor));
    machine.sample();
    rows.back().steal = machine.steal();
    rows.back().speed = machine.speed();
  }
  if (cfg.wants("L4")) {
    log("L4");
    MachineWatch machine;
    machine.sample();
    std::vector<Latency> runs, floor;
    for (int i = 0; i < kLatencyRuns; ++i) {
      const auto table = fresh_table(cfg, "bench_l4");
      runs.push_back(cross_process(cfg, "pg", cfg.pg_dsn, table, table, count));
      const auto raw_table = fresh_table(cfg, "bench_l4_raw");
      floor.push_back(cross_process(cfg, "rawpg", cfg.pg_dsn, raw_table, raw_table, count, true));
    }
    Row row = latency_row(
        "L4",
        "commit→consumer in another process, PG notify, 2,000 ev/s, 8 producers (floor: "
        "hand-written INSERT, NOTIFY and LISTEN, in order by contiguous ids)",
        runs, 5);
    machine.sample();
    row.steal = machine.steal();
    row.speed = machine.speed();
    rows.push_back(with_floor(std::move(row), floor));
  }
}

// ---- F1 -------------------------------------------------------------------------------------

/// `reflexctl serve` as a child, its stderr in a file (where it names its port).
class Serve {
 public:
  Serve(const std::string& dsn, const std::string& table) {
    char path[] = "/tmp/reflex-bench-serve.XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) throw std::runtime_error("F1: mkstemp failed");
    log_ = path;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fd, STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    const std::string stream =
        "events=" + dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "table=" + table;
    std::vector<std::string> args = {REFLEX_BENCH_REFLEXCTL, "serve",    "--listen",
                                     "127.0.0.1:0",          "--stream", stream};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int err = posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fd);
    if (err != 0) throw std::runtime_error("F1: cannot start " + args[0]);
    const auto deadline = Clock::now() + 20s;
    while (port_.empty()) {
      if (Clock::now() > deadline) throw std::runtime_error("F1: reflexctl serve never listened");
      std::this_thread::sleep_for(20ms);
      std::ifstream in(log_);
      for (std::string line; std::getline(in, line);) {
        const auto at = line.find("gRPC on ");
        if (at == std::string::npos) continue;
        const auto colon = line.find(':', at + 8);
        port_ = line.substr(colon + 1, line.find(' ', colon) - colon - 1);
      }
    }
  }
  ~Serve() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    std::remove(log_.c_str());
  }
  Serve(const Serve&) = delete;
  Serve& operator=(const Serve&) = delete;

  [[nodiscard]] std::string target() const { return "127.0.0.1:" + port_; }
  /// The serve process's resident memory, in KiB.
  [[nodiscard]] long rss_kib() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
    }
    return 0;
  }

 private:
  pid_t pid_ = -1;
  std::string log_, port_;
};

struct FollowerRun {
  double delivered = 0;  // events/s summed over the followers
  double rss_per_follower = 0, rss_attached = 0;
  long rss_before = 0;
};

FollowerRun followers_run(const Config& cfg, int followers, int count) {
  const auto table = fresh_table(cfg, "bench_f1");
  const EventsTable events(Database::open(cfg.pg_dsn), {.schema = {.table = table}});
  // One event before the followers: each one's first receipt says its stream is open.
  events.publish(std::vector<NewEvent>{{.foreign_id = "seed", .type = 1}});
  Serve serve(cfg.pg_dsn, table);
  std::this_thread::sleep_for(500ms);  // past start-up (probes, first reads)
  FollowerRun out;
  out.rss_before = serve.rss_kib();
  std::stop_source stop;
  std::atomic<int> attached{0}, done{0}, failed{0};
  std::atomic<std::int64_t> last_receipt{0};
  std::vector<std::jthread> threads;
  for (int f = 0; f < followers; ++f) {
    threads.emplace_back([&] {
      try {
        auto client =
            reflex::rgrpc::stream_func({.target = serve.target()})(stop.get_token(), "", {});
        if (client->recv().foreign_id != "seed") throw std::runtime_error("no seed first");
        ++attached;
        for (int i = 0; i < count; ++i) {
          if (client->recv().foreign_id != std::to_string(i)) {
            throw std::runtime_error("event " + std::to_string(i) + " missing or out of order");
          }
        }
        std::int64_t now = steady_nanos(), seen = last_receipt.load();
        while (now > seen && !last_receipt.compare_exchange_weak(seen, now)) {
        }
        ++done;
      } catch (const std::exception& e) {
        if (!stop.stop_requested()) {
          if (failed++ == 0) log(std::string("F1 follower: ") + e.what());
        }
      }
    });
  }
  const auto attach_deadline = Clock::now() + 30s;
  while (attached + failed < followers && Clock::now() < attach_deadline) {
    std::this_thread::sleep_for(10ms);
  }
  std::this_thread::sleep_for(300ms);
  out.rss_attached = static_cast<double>(serve.rss_kib() - out.rss_before) / followers;
  // Inserts at 1,000 events/s, one committed transaction each.
  const auto start = Clock::now();
  {
    pqxx::connection conn(cfg.pg_dsn);
    for (int i = 0; i < count; ++i) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(1000LL * i));
      pqxx::work w(conn);
      const auto notify = events.insert(w, NewEvent{.foreign_id = std::to_string(i), .type = 1});
      w.commit();
      notify();
    }
  }
  const auto deadline = Clock::now() + 20s;
  while (done + failed < followers && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  out.rss_per_follower = static_cast<double>(serve.rss_kib() - out.rss_before) / followers;
  const int delivered_to = done.load();
  stop.request_stop();
  threads.clear();
  if (delivered_to != followers) {
    throw std::runtime_error(std::to_string(followers - delivered_to) + " of " +
                             std::to_string(followers) + " followers missed events");
  }
  const double seconds =
      static_cast<double>(
          last_receipt.load() -
          std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count()) /
      1e9;
  out.delivered = static_cast<double>(count) * followers / seconds;
  return out;
}

void f1(const Config& cfg, std::vector<Row>& rows) {
  if (!cfg.wants("F1")) return;
  log("F1");
  const int followers = 100, count = cfg.quick ? 2000 : 10000;  // 2 s or 10 s at 1,000/s
  std::vector<double> rate, rss, attached;
  long before = 0;
  for (int i = 0; i < kLatencyRuns; ++i) {
    const auto run = followers_run(cfg, followers, count);
    rate.push_back(run.delivered);
    rss.push_back(run.rss_per_follower);
    attached.push_back(run.rss_attached);
    before = run.rss_before;
  }
  Row row{.id = "F1",
          .name = "reflexctl serve, 100 gRPC followers, 1,000 ev/s: RSS per follower",
          .unit = "KiB",
          .goal = "≤256"};
  row.reflex = median(rss);
  row.met = *row.reflex <= 256;
  char note[160];
  std::snprintf(note, sizeof note,
                "every follower got every event in order; %.0f events/s delivered in all; "
                "%.0f KiB each once attached, serve %ld KiB before",
                median(rate), median(attached), before);
  row.note = note;
  rows.push_back(std::move(row));
}

/// What a latency child prints at the end: a line per event, its foreign id and when it arrived.
void print_receipts(const std::vector<std::pair<long, std::int64_t>>& seen) {
  std::string out;
  for (const auto& [g, at] : seen) out += std::to_string(g) + " " + std::to_string(at) + "\n";
  std::cout << out << std::flush;
}

/// L4's floor consumer: a ContiguousReader, woken by each NOTIFY (or after a second without one).
int hand_written_child(const std::string& dsn, const std::string& table, int count) {
  ContiguousReader reader(dsn, table);
  std::cout << "ready" << std::endl;
  std::vector<std::pair<long, std::int64_t>> seen;
  seen.reserve(static_cast<std::size_t>(count));
  const auto deadline = Clock::now() + 120s;
  while (static_cast<int>(seen.size()) < count && Clock::now() < deadline) {
    reader.read([&](const std::string& g) { seen.emplace_back(std::stol(g), steady_nanos()); });
    if (static_cast<int>(seen.size()) < count) reader.wait(1s);
  }
  print_receipts(seen);
  return 0;
}

/// L3's floor consumer: an ordered consumer of the stream read with nats.c's synchronous
/// subscription (no hand-over to another thread), the event's foreign id from its header.
int hand_written_nats_child(const std::string& url, const std::string& stream, int count) {
  const auto nc = nats_connect(url);
  const auto js = jetstream(nc.get());
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Ordered = true;
  natsSubscription* raw = nullptr;
  nats_check(js_SubscribeSync(&raw, js.get(), (stream + ".>").c_str(), nullptr, &so, nullptr),
             "subscribe");
  const NatsSubscription sub(raw, &natsSubscription_Destroy);
  std::cout << "ready" << std::endl;
  std::vector<std::pair<long, std::int64_t>> seen;
  seen.reserve(static_cast<std::size_t>(count));
  const auto deadline = Clock::now() + 120s;
  while (static_cast<int>(seen.size()) < count && Clock::now() < deadline) {
    natsMsg* next = nullptr;
    const natsStatus s = natsSubscription_NextMsg(&next, sub.get(), 1000);
    if (s == NATS_TIMEOUT) continue;
    nats_check(s, "next message");
    const NatsMessage msg(next, &natsMsg_Destroy);
    const char* id = nullptr;
    nats_check(natsMsgHeader_Get(msg.get(), "Reflex-Foreign-Id", &id), "foreign id header");
    seen.emplace_back(std::stol(id), steady_nanos());
  }
  print_receipts(seen);
  return 0;
}

}  // namespace

int latency_child(const std::string& kind, const std::string& where, const std::string& name,
                  int count) {
  if (kind == "rawpg") return hand_written_child(where, name, count);
  if (kind == "rawnats") return hand_written_nats_child(where, name, count);
  std::stop_source stop;
  std::unique_ptr<reflex::StreamClient> client;
  std::optional<reflex::rnats::Connection> conn;
  std::optional<EventsTable> table;
  if (kind == "nats") {
    conn.emplace(reflex::rnats::ConnectOptions{.url = where, .name = "bench-latency-child"});
    client = reflex::rnats::stream_func(*conn, {.stream = name})(stop.get_token(), "", {});
  } else {
    table.emplace(Database::open(where),
                  reflex::rsql::EventsTableOptions{.schema = {.table = name}});
    client = table->stream(stop.get_token(), "", {.from_head = true});
  }
  std::cout << "ready" << std::endl;
  std::vector<std::pair<long, std::int64_t>> seen;
  seen.reserve(static_cast<std::size_t>(count));
  std::jthread watchdog([&](std::stop_token done) {
    if (reflex::sleep_for(done, 120s)) stop.request_stop();
  });
  try {
    while (static_cast<int>(seen.size()) < count) {
      const auto event = client->recv();
      seen.emplace_back(std::stol(event.foreign_id), steady_nanos());
    }
  } catch (const std::exception& e) {
    std::cerr << "latency child: " << e.what() << "\n";
  }
  watchdog.request_stop();
  print_receipts(seen);
  return 0;
}

void latency_scenarios(const Config& config, std::vector<Row>& rows) {
  l3_l4(config, rows);
  f1(config, rows);
}

}  // namespace bench
