// Must not compile: insert_with() without the PostgreSQL header (it exists only there).
#include <reflex/rsql/events_table.hpp>

namespace pqxx {
class transaction_base;
}  // namespace pqxx

void produce(const reflex::rsql::EventsTable& table, pqxx::transaction_base& transaction) {
  (void)table.insert_with(transaction, "UPDATE accounts SET balance = 0", {},
                          reflex::rsql::NewEvent{.foreign_id = "1", .type = 1});
}
