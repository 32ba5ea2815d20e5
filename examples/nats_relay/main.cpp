// An SQL outbox relayed into NATS JetStream, and a consumer of the stream with its cursor in a KV
// bucket: the scale-out path (many consumers and services read JetStream, not the database).
//
//   nats_relay [NATS_URL] [SQLITE_PATH]   (default URL: $REFLEX_NATS_URL, then
//                                          $REFLEX_TEST_NATS_URL; default path: a temp file)
//
// A service writes orders and their events in SQLite transactions; the relay publishes each
// event exactly once, in order, to JetStream subject "<stream>.events"; a shipping consumer reads
// the stream after its KV cursor. The demo is bounded: it exits 0 once the consumer saw every
// event, and removes its stream, KV bucket and database.
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <reflex/reflex.hpp>
#include <reflex/rnats/rnats.hpp>
#include <reflex/rsql/rsql.hpp>
#include <reflex/rsql/sqlite.hpp>
#include <thread>

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  // [snippet:namespace]
  namespace rnats = reflex::rnats;
  // [end snippet]
  const char* env_url = std::getenv("REFLEX_NATS_URL");
  if (!env_url) env_url = std::getenv("REFLEX_TEST_NATS_URL");
  const std::string url = argc > 1 ? argv[1] : env_url ? env_url : "";
  if (url.empty()) {
    std::cerr << "usage: nats_relay nats://HOST:PORT [SQLITE_PATH] (or set REFLEX_NATS_URL)\n";
    return 2;
  }
  const std::string suffix = std::to_string(getpid());
  const fs::path path = argc > 2 ? fs::path(argv[2])
                                 : fs::temp_directory_path() / ("reflex-orders-" + suffix + ".db");
  const std::string stream_name = "ORDERS_" + suffix;
  const std::string bucket = "cursors_" + suffix;
  constexpr int kOrders = 50;
  int status = 0;
  try {
    auto db = reflex::rsql::Database::open("sqlite://" + fs::absolute(path).string());
    db->create_events_table({.table = "order_events"});
    db->execute(
        "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT)");
    reflex::rsql::EventsTable outbox(db, {.schema = {.table = "order_events"}});

    // [snippet:connect]
    rnats::Connection conn({.url = url, .name = "nats-relay-example"});  // reconnects with backoff
    rnats::ensure_stream(conn, {.name = stream_name, .subjects = {stream_name + ".>"}});
    // [end snippet]

    // [snippet:relay]
    // The relay: SQL outbox -> JetStream, exactly once and in order (Nats-Msg-Id per event).
    rnats::Relay relay(conn, {.name = "orders-outbox",
                              .source = outbox.stream_func(),
                              .stream = stream_name,
                              .subject = stream_name + ".events",
                              .start_after = ""});
    std::jthread relaying([&](std::stop_token stop) { relay.run(stop); });
    // [end snippet]

    // [snippet:consume]
    // A consumer of the stream, its cursor (the stream sequence) in a KV bucket.
    auto cursors = std::make_shared<rnats::KvCursorStore>(conn, bucket);
    int shipped = 0;
    std::stop_source stop;
    auto shipping = reflex::make_consumer("shipping", [&](const reflex::Event& e) {
      if (++shipped <= 3 || shipped == kOrders) {
        std::cout << "shipping: order " << e.foreign_id << " (stream sequence " << e.id << ")"
                  << std::endl;
      }
      if (shipped == kOrders) stop.request_stop();
    });
    std::jthread consuming([&] {
      reflex::run(stop.get_token(),
                  reflex::Spec{.stream = rnats::stream_func(conn, {.stream = stream_name}),
                               .cursors = cursors,
                               .consumer = shipping,
                               .options = {}});
    });
    // [end snippet]

    // The service: each order and its event in one transaction.
    sqlite3* app = nullptr;
    sqlite3_open(path.c_str(), &app);
    sqlite3_busy_timeout(app, 5000);
    for (int i = 0; i < kOrders; ++i) {
      sqlite3_exec(app, "BEGIN", nullptr, nullptr, nullptr);
      sqlite3_exec(app, "INSERT INTO orders (item) VALUES ('book')", nullptr, nullptr, nullptr);
      auto notify = outbox.insert(app, sqlite3_last_insert_rowid(app), 1);
      sqlite3_exec(app, "COMMIT", nullptr, nullptr, nullptr);
      notify();
    }
    sqlite3_close(app);

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!stop.stop_requested() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    stop.request_stop();
    consuming.join();
    relaying.request_stop();
    relaying.join();
    const auto stats = relay.stats();
    std::cout << "relay: " << stats.acknowledged << " events acknowledged by JetStream, cursor "
              << stats.cursor << "; shipping cursor in KV: " << cursors->get("shipping")
              << std::endl;
    if (shipped != kOrders) {
      std::cerr << "nats_relay: the consumer saw " << shipped << " of " << kOrders << " events\n";
      status = 1;
    }
    rnats::delete_stream(conn, stream_name);
    rnats::StateStore::remove(conn, bucket);
  } catch (const std::exception& e) {
    std::cerr << "nats_relay: " << e.what() << std::endl;
    status = 1;
  }
  if (argc <= 2) {
    for (const char* s : {"", "-wal", "-shm"}) fs::remove(path.string() + s);
  }
  return status;
}
