#include "backend.hpp"

namespace reflex_test::rsql {

void insert_committed(Backend& backend, const reflex::rsql::EventsTable& table,
                      std::span<const reflex::rsql::NewEvent> events) {
  auto producer = backend.producer();
  producer->begin();
  auto notifier = producer->insert_batch(table, events);
  producer->commit();
  notifier();
}

}  // namespace reflex_test::rsql
