// A relay process for the kill test: relays a SQLite outbox table into a JetStream stream until
// it is killed.
//   rnats_relay_proc SQLITE_PATH TABLE NATS_URL STREAM SUBJECT

#include <iostream>

#include "reflex/rnats/rnats.hpp"
#include "reflex/rsql/rsql.hpp"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: rnats_relay_proc SQLITE_PATH TABLE NATS_URL STREAM SUBJECT\n";
    return 2;
  }
  try {
    auto db = reflex::rsql::Database::open(std::string("sqlite://") + argv[1]);
    reflex::rsql::EventsTable table(
        db, {.schema = {.table = argv[2]}, .poll_interval = std::chrono::milliseconds(5)});
    reflex::rnats::Connection conn({.url = argv[3], .name = "relay-proc"});
    reflex::rnats::Relay relay(conn, {.name = "outbox",
                                      .source = table.stream_func(),
                                      .stream = argv[4],
                                      .subject = argv[5],
                                      .start_after = ""});
    relay.run(std::stop_token{});
  } catch (const std::exception& e) {
    std::cerr << "rnats_relay_proc: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
