// Must not compile: inserting with a transaction type whose dialect header is not included.
#include <reflex/rsql/events_table.hpp>

namespace pqxx {
class transaction_base;
}  // namespace pqxx

void produce(const reflex::rsql::EventsTable& table, pqxx::transaction_base& transaction) {
  (void)table.insert(transaction, reflex::rsql::NewEvent{.foreign_id = "1", .type = 1});
}
