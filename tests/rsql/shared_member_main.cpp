// A member process of the shared-consumer process test: runs its share of the shared consumer
// GROUP over an events table (shard leases in SHARDS/MEMBERS) until SIGTERM, and appends a line
// "<steady ns> <event id> <foreign id>" to OUT for every event it processes, with one write(2)
// each before the event's cursor may move, so a SIGKILL loses none of them.
//   rsql_shared_member DSN EVENTS SHARDS MEMBERS GROUP MEMBER OUT WORK_US
// On start it prints "member MEMBER running" to stdout.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include "reflex/rpatterns/shared.hpp"
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

}  // namespace

int main(int argc, char** argv) {
  if (argc != 9) {
    std::cerr << "usage: rsql_shared_member DSN EVENTS SHARDS MEMBERS GROUP MEMBER OUT WORK_US\n";
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
    const Lines out(argv[7]);
    const auto work = std::chrono::microseconds(std::atoll(argv[8]));
    auto spec =
        rp::shard_consumer(events.stream_func(), [&](std::stop_token, const reflex::Event& e) {
          if (work.count() > 0) std::this_thread::sleep_for(work);
          const auto now = std::chrono::steady_clock::now().time_since_epoch();
          out.write(std::to_string(std::chrono::nanoseconds(now).count()) + " " + e.id + " " +
                    e.foreign_id + "\n");
        });
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
