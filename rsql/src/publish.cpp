// EventsTable::publish: events written in a transaction of reflex's own, for producers with
// none to join (scripts, `reflexctl publish`).
#include <chrono>
#include <vector>

#include "events_table_impl.hpp"
#include "reflex/rsql/events_table.hpp"
#include "session_pool.hpp"
#include "values.hpp"

namespace reflex::rsql {

void EventsTable::publish(std::span<const NewEvent> events) const {
  auto& t = *impl_;
  if (events.empty()) return;
  for (const auto& e : events) t.check(e);
  const auto& s = t.options.schema;
  const bool metadata = !s.metadata_column.empty();
  const bool trace = !s.trace_column.empty();
  // SQLite's timestamp default has millisecond resolution: give microseconds like insert() does.
  const bool timestamp = t.dialect == Dialect::sqlite;
  std::string sql =
      "INSERT INTO " + t.quoted_table + " (" + t.insert_columns(timestamp) + ") VALUES (?, ?";
  if (metadata) sql += ", ?";
  if (trace) sql += ", ?";
  if (timestamp) sql += ", ?";
  sql += ")";
  // The transaction is ours and was rolled back whole: a deadlock victim, or an insert whose id a
  // hole probe filled (MariaDB), simply runs again. Not a lost connection: the commit may have
  // happened.
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    try {
      detail::with_table_session(
          t.pool, s.table, "events_ddl", t.dialect, [&](detail::Session& session) {
            session.begin();
            try {
              std::vector<detail::Param> params;
              for (const auto& e : events) {
                params.clear();
                params.emplace_back(std::string_view(e.foreign_id.str()));
                params.emplace_back(static_cast<std::int64_t>(e.type));
                if (metadata) params.emplace_back(detail::Blob{e.metadata});
                if (trace) params.emplace_back(detail::Blob{e.trace});
                if (timestamp)
                  params.emplace_back(detail::to_micros(std::chrono::system_clock::now()));
                session.execute(sql, params);
              }
              session.commit();
            } catch (...) {
              session.rollback();
              throw;
            }
            return 0;
          });
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
