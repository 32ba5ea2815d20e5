// A producer process for the cross-process wake-up test: inserts COUNT events, one transaction
// each, INTERVAL_MS apart, and notifies after each commit like a service would.
//   rsql_pg_writer DSN TABLE COUNT INTERVAL_MS

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <pqxx/pqxx>
#include <thread>

#include "reflex/rsql/postgres.hpp"
#include "reflex/rsql/rsql.hpp"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: rsql_pg_writer DSN TABLE COUNT INTERVAL_MS\n";
    return 2;
  }
  try {
    auto db = reflex::rsql::Database::open(argv[1]);
    reflex::rsql::EventsTable table(db, {.schema = {.table = argv[2]}});
    pqxx::connection conn(argv[1]);
    const int count = std::atoi(argv[3]);
    const auto interval = std::chrono::milliseconds(std::atoi(argv[4]));
    for (int i = 0; i < count; ++i) {
      pqxx::work tx(conn);
      auto notify = table.insert(tx, reflex::rsql::NewEvent{.foreign_id = i, .type = 1});
      tx.commit();
      notify();
      std::this_thread::sleep_for(interval);
    }
  } catch (const std::exception& e) {
    std::cerr << "rsql_pg_writer: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
