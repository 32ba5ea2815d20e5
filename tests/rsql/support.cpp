#include "backend.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/streams.hpp"

namespace reflex_test::rsql {

std::vector<reflex::Event> read_to_head(const reflex::rsql::EventsTable& table,
                                        std::string_view after) {
  return reflex_test::read_to_head(table.stream_func(), after);
}

FreshEvents::FreshEvents(const std::string& prefix) : name(unique_name(prefix)) {
  db->create_events_table({.table = name});
}

void insert_committed(Backend& backend, const reflex::rsql::EventsTable& table,
                      std::span<const reflex::rsql::NewEvent> events) {
  auto producer = backend.producer();
  producer->begin();
  auto notifier = producer->insert_batch(table, events);
  producer->commit();
  notifier();
}

}  // namespace reflex_test::rsql
