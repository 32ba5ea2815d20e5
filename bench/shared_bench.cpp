// X2: one consumer shared by processes (rpatterns::run_shared over rsql::ShardsTable), a consumer
// doing 1 ms of work per event over a PostgreSQL events table. Members are child processes (this
// binary re-run with --shared-child), each counting what it consumed: it prints the count on
// SIGUSR1 and, at its end, on SIGTERM. The rate is measured once the shares settled (every shard
// held by its member of the round robin), so the window measures running, not joining.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <thread>
#include <utility>

#include "reflex/mem_cursor_store.hpp"
#include "reflex/reflex.hpp"
#include "reflex/rpatterns/shared.hpp"
#include "reflex/rsql/rsql.hpp"
#include "scenarios.hpp"

namespace bench {

namespace {

using reflex::rsql::Database;
using reflex::rsql::EventsTable;

constexpr auto kWork = std::chrono::milliseconds(1);

/// Events per second of `processes` members sharing `shards` shards for a window, from a fresh
/// shards table (every member starts at the beginning of the table).
double shared_rate(const Config& cfg, const std::string& events, int processes, int shards,
                   int run) {
  const std::string suffix = std::to_string(getpid()) + "_" + std::to_string(run);
  const std::string table = "bench_shards_" + suffix, members = "bench_members_" + suffix;
  auto db = Database::open(cfg.pg_dsn);
  db->create_shards_tables({.table = table, .members_table = members});
  std::vector<std::unique_ptr<ChildProcess>> children;
  const auto start = Clock::now();
  for (int i = 0; i < processes; ++i) {
    children.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{cfg.self, "--shared-child", cfg.pg_dsn, events, table, members,
                                 std::to_string(shards), "m" + std::to_string(i)}));
  }
  reflex::rsql::ShardsTable leases(db, {.schema = {.table = table, .members_table = members}});
  const auto settled = [&] {
    const auto states = leases.list("bench");
    if (states.size() != static_cast<std::size_t>(shards)) return false;
    for (const auto& state : states) {
      if (state.owner != "m" + std::to_string(state.shard % processes)) return false;
    }
    return true;
  };
  while (!settled()) {
    if (Clock::now() - start > std::chrono::seconds(30)) throw std::runtime_error("never settled");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  log("X2: " + std::to_string(processes) + " processes, " + std::to_string(shards) +
      " shards settled in " +
      std::to_string(std::chrono::duration<double>(Clock::now() - start).count()).substr(0, 4) +
      " s");
  long before = 0;
  // A member answers SIGUSR1 with the count so far.
  for (auto& child : children) before += std::stol(child->ask(SIGUSR1));
  const auto from = Clock::now();
  std::this_thread::sleep_for(cfg.window());
  for (auto& child : children) child->signal(SIGTERM);
  const double seconds = std::chrono::duration<double>(Clock::now() - from).count();
  long total = 0;
  for (auto& child : children) total += std::stol(child->finish());
  db->execute("DROP TABLE " + table + ";\nDROP TABLE " + members);
  return static_cast<double>(total - before) / seconds;
}

/// Events per second of one plain consumer (reflex::run, one cursor) for a window.
double plain_rate(const Config& cfg, const std::string& events) {
  const EventsTable source(Database::open(cfg.pg_dsn), {.schema = {.table = events}});
  std::atomic<long> seen{0};
  auto consumer = reflex::make_consumer("plain", [&](const reflex::Event&) {
    std::this_thread::sleep_for(kWork);
    ++seen;
  });
  std::stop_source stop;
  const auto start = Clock::now();
  std::jthread runner([&] {
    try {
      reflex::run(stop.get_token(),
                  reflex::Spec{.stream = source.stream_func(),
                               .cursors = std::make_shared<reflex::MemCursorStore>(),
                               .consumer = consumer});
    } catch (const std::exception& e) {
      log(std::string("X2 plain consumer: ") + e.what());
    }
  });
  std::this_thread::sleep_for(cfg.window());
  stop.request_stop();
  runner.join();
  return static_cast<double>(seen.load()) /
         std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int shared_child(const std::string& dsn, const std::string& events, const std::string& table,
                 const std::string& members, int shards, const std::string& member) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::stop_source stop;
  std::atomic<long> consumed{0};
  std::thread([&stop, &consumed, signals] {
    for (int sig = 0; sig != SIGTERM;) {
      sigwait(&signals, &sig);
      if (sig == SIGUSR1) std::cout << consumed.load() << std::endl;
    }
    stop.request_stop();
  }).detach();
  auto db = Database::open(dsn);
  const EventsTable source(db, {.schema = {.table = events}});
  auto leases = std::make_shared<reflex::rsql::ShardsTable>(
      db, reflex::rsql::ShardsTableOptions{.schema = {.table = table, .members_table = members}});
  auto spec = reflex::rpatterns::shard_consumer(source.stream_func(),
                                                [&](std::stop_token, const reflex::Event&) {
                                                  std::this_thread::sleep_for(kWork);
                                                  ++consumed;
                                                });
  reflex::rpatterns::run_shared(stop.get_token(), leases, "bench", spec,
                                {.shards = static_cast<std::size_t>(shards),
                                 .member = member,
                                 .lease_ttl = std::chrono::seconds(2)});
  std::cout << consumed.load() << std::endl;
  return 0;
}

void shared_scenarios(const Config& cfg, std::vector<Row>& rows) {
  if (!cfg.wants("X2")) return;
  log("X2: a consumer shared by processes, 1 ms of work per event");
  // Enough events that 32 shards at ~1000 events/s each do not reach the end in a window.
  const std::string events = ensure_pg_stream_table(cfg, cfg.quick ? 60000 : 150000);
  int run = 0;
  const auto measured = compare(cfg,
                                {[&] { return plain_rate(cfg, events); },
                                 [&] { return shared_rate(cfg, events, 1, 8, run++); },
                                 [&] { return shared_rate(cfg, events, 4, 32, run++); },
                                 [&] { return shared_rate(cfg, events, 4, 8, run++); }},
                                cfg.max_rounds() * 2, cfg.budget() * 2);
  const double plain = measured.value(0).median, one = measured.value(1).median,
               four_by_eight = measured.value(2).median;
  auto row = ratio_row("X2", "4 processes x 8 shards vs 1 process (1 ms/event)", "events/s",
                       measured, 3.2, false, 1, 2);
  row.note = "plain consumer " + std::to_string(static_cast<long>(plain)) +
             "/s; 1 process, 8 shards " + std::to_string(static_cast<long>(one)) +
             "/s; 4 processes, 32 shards " + std::to_string(static_cast<long>(four_by_eight)) +
             "/s; 4 processes sharing 8 shards " +
             std::to_string(static_cast<long>(measured.value(3).median)) + "/s (" +
             std::to_string(measured.ratio(3, 1).median).substr(0, 4) + "x)";
  rows.push_back(std::move(row));
}

}  // namespace bench
