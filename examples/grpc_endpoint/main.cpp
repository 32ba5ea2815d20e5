// "Microservices own their data": a users service owns its SQLite outbox and serves it over gRPC
// (reflexpb, so Go reflex clients can read it too); a separate consumer process streams it
// remotely, keeping its cursor in a database of its own.
//
//   grpc_endpoint serve   --db PATH [--listen 127.0.0.1:0] [--address-file F] [--users N]
//   grpc_endpoint consume --target HOST:PORT --cursors PATH [--count N]
//
// `serve` creates N users (one event each, in the user's transaction) while serving, then keeps
// serving until SIGINT/SIGTERM (graceful stop: open streams end with Stopped). `consume` follows
// the remote stream from its stored cursor and exits after N events (0 = until interrupted).
#include <signal.h>
#include <sqlite3.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <reflex/reflex.hpp>
#include <reflex/rgrpc/client.hpp>
#include <reflex/rgrpc/server.hpp>
#include <reflex/rsql/rsql.hpp>
#include <reflex/rsql/sqlite.hpp>
#include <string>
#include <thread>

namespace {

std::map<std::string, std::string> flags(int argc, char** argv) {
  std::map<std::string, std::string> out;
  for (int i = 2; i + 1 < argc; i += 2) out[argv[i]] = argv[i + 1];
  return out;
}

std::string flag(const std::map<std::string, std::string>& f, const std::string& name,
                 const std::string& fallback = {}) {
  auto it = f.find(name);
  if (it != f.end()) return it->second;
  if (fallback.empty()) throw std::runtime_error("missing " + name);
  return fallback;
}

/// Waits for SIGINT or SIGTERM.
void wait_for_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int signal = 0;
  sigwait(&set, &signal);
}

int serve(const std::map<std::string, std::string>& f) {
  const std::string path = flag(f, "--db");
  const int users = std::stoi(flag(f, "--users", "20"));
  auto db = reflex::rsql::Database::open("sqlite://" + path);
  db->create_events_table({.table = "user_events"});
  db->execute("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT)");
  reflex::rsql::EventsTable events(db, {.schema = {.table = "user_events"}});

  // [snippet:serve]
  // Any StreamFunc: an rsql events table, a JetStream stream, a MemLog...
  reflex::rgrpc::Server server(events.stream_func(),
                               {.listen = flag(f, "--listen", "127.0.0.1:0")});
  // [end snippet]
  if (f.contains("--address-file")) {
    std::ofstream(f.at("--address-file") + ".tmp") << server.address() << '\n';
    std::rename((f.at("--address-file") + ".tmp").c_str(), f.at("--address-file").c_str());
  }
  std::cout << "users service: serving user_events on " << server.address() << std::endl;

  // The service's own work: each new user and its event commit together.
  sqlite3* app = nullptr;
  sqlite3_open(path.c_str(), &app);
  sqlite3_busy_timeout(app, 5000);
  for (int i = 0; i < users; ++i) {
    sqlite3_exec(app, "BEGIN", nullptr, nullptr, nullptr);
    const std::string insert = "INSERT INTO users (name) VALUES ('user" + std::to_string(i) + "')";
    sqlite3_exec(app, insert.c_str(), nullptr, nullptr, nullptr);
    auto notify = events.insert(app, sqlite3_last_insert_rowid(app), 1);
    sqlite3_exec(app, "COMMIT", nullptr, nullptr, nullptr);
    notify();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  sqlite3_close(app);
  wait_for_signal();
  // [snippet:stop]
  server.stop();  // open streams end with Stopped; the consumer reconnects elsewhere or later
  // [end snippet]
  std::cout << "users service: stopped" << std::endl;
  return 0;
}

int consume(const std::map<std::string, std::string>& f) {
  const int count = std::stoi(flag(f, "--count", "0"));
  // [snippet:consume]
  // The consumer keeps its cursor in a database of its own, not in the service's.
  auto db = reflex::rsql::Database::open("sqlite://" + flag(f, "--cursors"));
  db->create_cursors_table();
  auto cursors = std::make_shared<reflex::rsql::CursorsTable>(db);
  int seen = 0;
  std::stop_source stop;
  auto welcome = reflex::make_consumer("welcome-mailer", [&](const reflex::Event& e) {
    std::cout << "welcome-mailer: user " << e.foreign_id << " created (event " << e.id << ")"
              << std::endl;
    if (++seen == count) stop.request_stop();
  });
  reflex::run(stop.get_token(),
              reflex::Spec{.stream = reflex::rgrpc::stream_func({.target = flag(f, "--target")}),
                           .cursors = cursors,
                           .consumer = welcome,
                           .options = {}});
  // [end snippet]
  std::cout << "welcome-mailer: cursor " << cursors->get("welcome-mailer") << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by sigwait in `serve`; block them before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "serve") return serve(flags(argc, argv));
    if (mode == "consume") return consume(flags(argc, argv));
  } catch (const std::exception& e) {
    std::cerr << "grpc_endpoint " << mode << ": " << e.what() << std::endl;
    return 1;
  }
  std::cerr
      << "usage: grpc_endpoint serve --db PATH [--listen ADDR] [--address-file F] [--users N]\n"
         "       grpc_endpoint consume --target HOST:PORT --cursors PATH [--count N]\n";
  return 2;
}
