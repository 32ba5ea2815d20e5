#include <cstdio>
#include <iostream>
#include <reflex/reflex.hpp>
#include <string>
#ifdef HAVE_REFLEX_PROMETHEUS
#include <reflex/prometheus/metrics.hpp>
#endif
#ifdef HAVE_REFLEX_SQLITE
#include <sqlite3.h>
#include <unistd.h>

#include <reflex/rsql/rsql.hpp>
#include <reflex/rsql/sqlite.hpp>

/// An outbox round trip through the installed rsql: three events inserted in one SQLite
/// transaction of the program's own, then streamed to the head. Returns how many came back.
int sqlite_round_trip() {
  const std::string path = "/tmp/reflex-install-check-" + std::to_string(getpid()) + ".db";
  int count = 0;
  {
    auto db = reflex::rsql::Database::open("sqlite://" + path);
    db->create_events_table();
    reflex::rsql::EventsTable events(db);
    sqlite3* app = nullptr;
    sqlite3_open(path.c_str(), &app);
    sqlite3_exec(app, "BEGIN", nullptr, nullptr, nullptr);
    for (int i = 0; i < 3; ++i) (void)events.insert(app, "user-" + std::to_string(i), 1);
    sqlite3_exec(app, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(app);
    auto stream = events.stream({}, "", {.to_head = true});
    try {
      for (;;) {
        (void)stream->recv();
        ++count;
      }
    } catch (const reflex::HeadReached&) {
    }
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  return count;
}
#endif

int main() {
  reflex::MemLog log;
  for (int i = 0; i < 3; ++i) log.append(1, "user-" + std::to_string(i));

  int consumed = 0;
  reflex::ConsumerOptions options;
#ifdef HAVE_REFLEX_PROMETHEUS
  prometheus::Registry registry;
  options.metrics = std::make_shared<reflex::prometheus::Metrics>(registry);
#endif
  reflex::Spec spec{
      .stream = log.stream_func(),
      .cursors = std::make_shared<reflex::MemCursorStore>(),
      .consumer = reflex::make_consumer(
          "install-check", [&](const reflex::Event&) { ++consumed; }, std::move(options)),
      .options = {.to_head = true},
  };
  try {
    reflex::run(std::stop_token{}, spec);
  } catch (const reflex::HeadReached&) {
  }
  std::cout << "reflex " << reflex::version_string << ": consumed " << consumed << " events\n";
#ifdef HAVE_REFLEX_SQLITE
  const int streamed = sqlite_round_trip();
  std::cout << "sqlite outbox: streamed " << streamed << " events\n";
  if (streamed != 3) return 1;
#endif
  return consumed == 3 ? 0 : 1;
}
