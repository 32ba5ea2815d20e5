// Must compile: the same producer with its dialect's header (the control of the two others).
#include <reflex/rsql/sqlite.hpp>

void produce(const reflex::rsql::EventsTable& table, sqlite3* transaction) {
  (void)table.insert(transaction, reflex::rsql::NewEvent{.foreign_id = "1", .type = 1});
}
