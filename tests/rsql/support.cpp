#include "backend.hpp"
#include "reflex/errors.hpp"

namespace reflex_test::rsql {

std::vector<reflex::Event> read_to_head(const reflex::rsql::EventsTable& table,
                                        std::string_view after) {
  std::stop_source stop;
  auto stream = table.stream(stop.get_token(), after, reflex::StreamOptions{.to_head = true});
  std::vector<reflex::Event> events;
  try {
    for (;;) events.push_back(stream->recv());
  } catch (const reflex::HeadReached&) {
  }
  return events;
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
