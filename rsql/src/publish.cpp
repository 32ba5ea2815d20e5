// EventsTable::publish: events written in a transaction of reflex's own, for producers with
// none to join (scripts, `reflexctl publish`): the dialect's own batch insert (PostgreSQL: COPY)
// on a pooled session, rerun whole when the database asks for it.
#include "events_table_impl.hpp"
#include "reflex/rsql/events_table.hpp"
#include "session_pool.hpp"

namespace reflex::rsql {

void EventsTable::publish(std::span<const NewEvent> events) const {
  auto& t = *impl_;
  if (events.empty()) return;
  for (const auto& e : events) t.check(e);
  const auto& s = t.options.schema;
  // The transaction is ours and was rolled back whole: a deadlock victim, or an insert whose id a
  // hole probe filled (MariaDB), simply runs again. Not a lost connection: the commit may have
  // happened (with_table_transaction does not run it again either).
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    try {
      detail::with_table_transaction(
          t.pool, s.table, "events_ddl", t.dialect,
          [&](detail::Session& session) { t.driver.insert_events(session, *this, events); });
      break;
    } catch (...) {
      if (attempt == kAttempts || !detail::insert_may_run_again(t.dialect)) {
        detail::rethrow_insert_error(s.table, t.dialect);
      }
    }
  }
  t.notify();
}

}  // namespace reflex::rsql
