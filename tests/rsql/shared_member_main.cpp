// A member process of the shared-consumer process test: runs its share of the shared consumer
// GROUP over a PostgreSQL events table (shard leases in SHARDS/MEMBERS) until SIGTERM, spending
// WORK_US on each event. It records every event it processes:
// - MODE "file": appends "<steady ns> <event id> <foreign id>" to the file OUT, one write(2) each
//   before the event's cursor may move, so a SIGKILL loses none of them;
// - MODE "transactional": inserts (member, event id, foreign id, steady ns) into the table OUT
//   in the transaction that moves the shard's cursor (transactional_shards).
//   rsql_shared_member DSN EVENTS SHARDS MEMBERS GROUP MEMBER MODE OUT WORK_US
// On start it prints "member MEMBER running" to stdout.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <thread>

#include "reflex/rpatterns/shared.hpp"
#include "reflex/rsql/postgres.hpp"
#include "reflex/rsql/rsql.hpp"

namespace {

namespace rp = reflex::rpatterns;

/// Appends whole lines to a file, one write(2) each (atomic for short lines, O_APPEND).
class Lines {
 public:
  explicit Lines(const std::string& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644)) {
    if (fd_ < 0) throw std::runtime_error("cannot open " + path);
  }
  ~Lines() { ::close(fd_); }
  void write(const std::string& line) const {
    if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      throw std::runtime_error("short write");
    }
  }

 private:
  int fd_;
};

long long steady_ns() {
  return std::chrono::nanoseconds(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 10) {
    std::cerr
        << "usage: rsql_shared_member DSN EVENTS SHARDS MEMBERS GROUP MEMBER MODE OUT WORK_US\n";
    return 2;
  }
  // SIGTERM is waited for by a thread below, not delivered: block it before any thread starts.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);
  try {
    auto db = reflex::rsql::Database::open(argv[1]);
    reflex::rsql::EventsTable events(db, {.schema = {.table = argv[2]}});
    auto leases = std::make_shared<reflex::rsql::ShardsTable>(
        db,
        reflex::rsql::ShardsTableOptions{.schema = {.table = argv[3], .members_table = argv[4]}});
    const std::string group = argv[5];
    const std::string member = argv[6];
    const std::string mode = argv[7];
    const std::string out_name = argv[8];
    const auto work = std::chrono::microseconds(std::atoll(argv[9]));
    rp::ShardSpecFunc spec;
    std::unique_ptr<Lines> lines;
    if (mode == "file") {
      lines = std::make_unique<Lines>(out_name);
      spec = rp::shard_consumer(events.stream_func(), [&](std::stop_token, const reflex::Event& e) {
        if (work.count() > 0) std::this_thread::sleep_for(work);
        lines->write(std::to_string(steady_ns()) + " " + e.id + " " + e.foreign_id + "\n");
      });
    } else {
      using Tx = pqxx::transaction_base&;
      auto cursors = reflex::rsql::transactional_cursors<Tx>(
          db, {.shards = {.table = argv[3], .members_table = argv[4]}});
      spec = rp::transactional_shards<Tx>(
          events.stream_func(), cursors,
          [&](std::stop_token, Tx tx, std::span<const reflex::Event> batch) {
            for (const auto& e : batch) {
              if (work.count() > 0) std::this_thread::sleep_for(work);
              tx.exec_params0("INSERT INTO " + tx.quote_name(out_name) +
                                  " (member, event_id, foreign_id, at_ns) VALUES ($1, $2, $3, $4)",
                              member, std::stol(e.id), e.foreign_id, steady_ns());
            }
          },
          {.max_batch = 20});
    }
    std::stop_source stop;
    // Detached: on an error main returns while it still waits, and the exit ends it.
    std::thread([&stop, term] {
      int sig = 0;
      sigwait(&term, &sig);
      stop.request_stop();
    }).detach();
    std::cout << "member " << member << " running" << std::endl;
    rp::run_shared(stop.get_token(), leases, group, spec,
                   {.shards = 8,
                    .member = member,
                    .lease_ttl = std::chrono::seconds(2),
                    .cursor_flush_interval = std::chrono::milliseconds(100)});
    std::cout << "member " << member << " stopped" << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "rsql_shared_member: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
