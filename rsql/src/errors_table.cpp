#include "reflex/rsql/errors_table.hpp"

#include <utility>

#include "access.hpp"
#include "reflex/encoding.hpp"
#include "reflex/errors.hpp"
#include "reflex/event.hpp"
#include "session_pool.hpp"
#include "sql_text.hpp"
#include "values.hpp"

namespace reflex::rsql {

namespace {
using detail::Param;
constexpr std::int64_t kRecordedType = 1;
}  // namespace

class ErrorsTable::Impl final {
 public:
  Impl(std::shared_ptr<Database> db, ErrorsSchema s)
      : database(std::move(db)),
        schema(std::move(s)),
        dialect(database->dialect()),
        pool(detail::Access::driver(database)),
        events(database, EventsTableOptions{.schema = EventsSchema{.table = schema.events_table}}) {
    validate(schema);
    auto& driver = detail::Access::driver(*database);
    const std::string table = detail::quote(dialect, schema.table);
    const std::string now = driver.now_expr();
    insert = "INSERT INTO " + table + " (consumer, event_id, message) VALUES (?, ?, ?)";
    update = "UPDATE " + table + " SET message = ?, updated_at = " + now +
             " WHERE consumer = ? AND event_id = ?";
    select_id = "SELECT id FROM " + table + " WHERE consumer = ? AND event_id = ?";
    const EventsSchema events_schema{.table = schema.events_table};
    insert_event = "INSERT INTO " + detail::quote(dialect, schema.events_table) + " (" +
                   detail::quote(dialect, events_schema.foreign_id_column) + ", " +
                   detail::quote(dialect, events_schema.type_column) + ") VALUES (?, ?)";
    list_all = "SELECT id, consumer, event_id, message, status, " +
               driver.micros_expr("created_at") + ", " + driver.micros_expr("updated_at") +
               " FROM " + table;
    list_one = list_all + " WHERE consumer = ? ORDER BY id LIMIT ?";
    list_all += " ORDER BY id LIMIT ?";
    set_status = "UPDATE " + table + " SET status = ?, updated_at = " + now + " WHERE id = ?";
  }

  template <class Fn>
  auto with_session(Fn&& fn) {
    return detail::with_table_session(pool, schema.table, "errors_ddl", dialect,
                                      std::forward<Fn>(fn));
  }

  std::string id_of(detail::Session& session, std::string_view consumer,
                    std::string_view event_id) {
    std::string id;
    const Param params[] = {consumer, event_id};
    session.query(select_id, params,
                  [&](const detail::Row& row) { id = std::to_string(row.int64(0)); });
    return id;
  }

  std::shared_ptr<Database> database;
  ErrorsSchema schema;
  Dialect dialect;
  detail::SessionPool pool;
  EventsTable events;
  std::string insert, update, select_id, insert_event, list_all, list_one, set_status;
};

ErrorsTable::ErrorsTable(std::shared_ptr<Database> database, ErrorsSchema schema) {
  if (!database) throw ConfigError("ErrorsTable needs a database (rsql::Database::open)");
  impl_ = std::make_shared<Impl>(std::move(database), std::move(schema));
}

std::string ErrorsTable::record(std::string_view consumer, std::string_view event_id,
                                std::string_view message) const {
  if (consumer.empty()) throw ConfigError("ErrorsTable::record needs a consumer name");
  if (event_id.empty()) throw ConfigError("ErrorsTable::record needs an event id");
  auto& t = *impl_;
  // {error id, whether this call created it}
  const auto [id, created] = t.with_session([&](detail::Session& session) {
    // First record: the row and its event in one transaction. A unique violation means the
    // error is known (maybe recorded concurrently): update it instead, and append no event.
    session.begin();
    try {
      const Param row[] = {consumer, event_id, message};
      session.execute(t.insert, row);
      std::string id = t.id_of(session, consumer, event_id);
      const Param event[] = {std::string_view(id), kRecordedType};
      try {
        session.execute(t.insert_event, event);
      } catch (...) {
        detail::rethrow_with_schema_hint(t.schema.events_table, "errors_ddl", t.dialect);
      }
      session.commit();
      return std::pair(std::move(id), true);
    } catch (const DatabaseError& e) {
      session.rollback();
      if (e.kind() != DatabaseErrorKind::unique_violation) throw;
    } catch (...) {
      session.rollback();
      throw;
    }
    const Param params[] = {message, consumer, event_id};
    session.execute(t.update, params);
    return std::pair(t.id_of(session, consumer, event_id), false);
  });
  if (created) t.events.notify();
  return id;
}

std::vector<ErrorRecord> ErrorsTable::list(std::string_view consumer, std::size_t limit) const {
  auto& t = *impl_;
  return t.with_session([&](detail::Session& session) {
    std::vector<ErrorRecord> out;
    const auto on_row = [&](const detail::Row& row) {
      out.push_back(ErrorRecord{.id = std::to_string(row.int64(0)),
                                .consumer = std::string(row.text(1)),
                                .event_id = std::string(row.text(2)),
                                .message = std::string(row.text(3)),
                                .status = static_cast<ErrorStatus>(row.int64(4)),
                                .created_at = detail::from_micros(row.int64(5)),
                                .updated_at = detail::from_micros(row.int64(6))});
    };
    const auto n = static_cast<std::int64_t>(limit);
    if (consumer.empty()) {
      const Param params[] = {n};
      session.query(t.list_all, params, on_row);
    } else {
      const Param params[] = {consumer, n};
      session.query(t.list_one, params, on_row);
    }
    return out;
  });
}

bool ErrorsTable::set_status(std::string_view error_id, ErrorStatus status) const {
  const auto id = parse_int64(error_id);
  if (!id) throw ConfigError(quoted(error_id) + " is not an error id");
  auto& t = *impl_;
  return t.with_session([&](detail::Session& session) {
    const Param params[] = {static_cast<std::int64_t>(status), *id};
    return session.execute(t.set_status, params) > 0;
  });
}

EventsTable ErrorsTable::events() const {
  return impl_->events;
}

}  // namespace reflex::rsql
