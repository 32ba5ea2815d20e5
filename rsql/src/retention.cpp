// EventsTable::delete_old_events: retention in short batches, never past a consumer that still
// needs the events when told which consumers count.
#include <algorithm>
#include <limits>

#include "events_table_impl.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/cursors_table.hpp"
#include "reflex/rsql/events_table.hpp"
#include "session_pool.hpp"
#include "sql_text.hpp"
#include "values.hpp"

namespace reflex::rsql {

std::uint64_t EventsTable::delete_old_events(std::stop_token stop,
                                             const RetentionOptions& options) const {
  auto& t = *impl_;
  const auto& s = t.options.schema;
  const auto q = [&](std::string_view name) { return detail::quote(t.dialect, name); };
  std::int64_t floor = std::numeric_limits<std::int64_t>::max();
  if (options.cursors) {
    for (const auto& consumer : options.consumers) {
      const std::string cursor = options.cursors->get(consumer);
      floor = std::min(floor, detail::parse_cursor(cursor, s.table));
    }
  }
  if (options.batch_size == 0) throw ConfigError("RetentionOptions::batch_size must be > 0");
  const std::int64_t cutoff =
      detail::to_micros(std::chrono::system_clock::now() - options.older_than);
  const std::string condition =
      q(s.id_column) + " <= ? AND " + q(s.timestamp_column) + " < " + t.driver.micros_param_expr();
  const std::string select = "SELECT " + q(s.id_column) + " FROM " + t.quoted_table + " WHERE " +
                             condition + " ORDER BY " + q(s.id_column) + " LIMIT ?";
  const std::string remove =
      "DELETE FROM " + t.quoted_table + " WHERE " + q(s.id_column) + " >= ? AND " + condition;
  std::uint64_t deleted = 0;
  detail::with_table_session(t.pool, s.table, "events_ddl", t.dialect,
                             [&](detail::Session& session) {
                               while (!stop.stop_requested()) {
                                 std::int64_t first = -1;
                                 std::int64_t last = -1;
                                 const detail::Param select_params[] = {
                                     floor, cutoff, static_cast<std::int64_t>(options.batch_size)};
                                 session.query(select, select_params, [&](const detail::Row& row) {
                                   if (first < 0) first = row.int64(0);
                                   last = row.int64(0);
                                 });
                                 if (first < 0) break;
                                 const detail::Param remove_params[] = {first, last, cutoff};
                                 deleted += session.execute(remove, remove_params);
                               }
                               return 0;
                             });
  return deleted;
}

}  // namespace reflex::rsql
