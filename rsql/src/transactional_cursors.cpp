// Transactional cursors: one transaction locks the consumer's cursor row, drops what it committed
// already, applies the rest and moves the cursor, so effects and cursor commit together.
#include "transactional_cursors.hpp"

#include <optional>
#include <vector>

#include "access.hpp"
#include "cursor_order.hpp"
#include "error_mapping.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/errors.hpp"
#include "sql_text.hpp"

namespace reflex::rsql::detail {

namespace {

std::shared_ptr<Database> checked(std::shared_ptr<Database> database, Dialect dialect,
                                  std::string_view factory) {
  if (!database) {
    throw ConfigError(std::string(factory) + " needs a database (rsql::Database::open)");
  }
  if (database->dialect() != dialect) {
    const std::string actual(to_string(database->dialect()));
    throw ConfigError(std::string(factory) + " got " + database->redacted_dsn() + ", a " + actual +
                      " database: use the transactional_cursors of <reflex/rsql/" + actual +
                      ".hpp>");
  }
  return database;
}

/// How many of `events` (in stream order) are at or before `cursor`: committed already. Ids
/// compare as numbers when both are; otherwise only equality says where the cursor is.
std::size_t replayed(std::string_view cursor, std::span<const Event> events) {
  if (cursor.empty()) return 0;
  if (is_number(cursor) && is_number(events.front().id)) {
    std::size_t n = 0;
    while (n < events.size() && is_number(events[n].id) && !number_less(cursor, events[n].id)) ++n;
    return n;
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].id == cursor) return i + 1;
  }
  return 0;
}

}  // namespace

TransactionalCursorsCore::TransactionalCursorsCore(std::shared_ptr<Database> database,
                                                   TransactionalCursorsOptions options,
                                                   Dialect dialect, std::string_view factory)
    : database_(checked(std::move(database), dialect, factory)),
      options_(std::move(options)),
      dialect_(dialect),
      pool_(Access::driver(database_)) {
  validate(options_.cursors);
  validate(options_.shards);
  const auto q = [&](std::string_view name) { return quote(dialect_, name); };
  const std::string now = pool_.driver().now_expr();
  // SQLite has no row locks: SqliteSession::begin is BEGIN IMMEDIATE, which takes the database's
  // write lock before the cursor is read, so two committers serialize just the same.
  const std::string for_update = dialect_ == Dialect::sqlite ? "" : " FOR UPDATE";

  const auto& c = options_.cursors;
  const std::string cursors = q(c.table);
  const std::string cursor = q(c.cursor_column);
  const std::string id = q(c.name_column);
  consumer_.select = "SELECT " + cursor + " FROM " + cursors + " WHERE " + id + " = ?";
  consumer_.lock = consumer_.select + for_update;
  consumer_.update = "UPDATE " + cursors + " SET " + cursor + " = ?, " + q(c.updated_at_column) +
                     " = " + now + " WHERE " + id + " = ?";
  consumer_.insert = "INSERT INTO " + cursors + " (" + id + ", " + cursor + ", " +
                     q(c.updated_at_column) + ") VALUES (?, ?, " + now + ")";

  const std::string shards = q(options_.shards.table);
  const std::string key = q("consumer") + " = ? AND " + q("shard") + " = ?";
  shard_.select = "SELECT " + q("cursor") + " FROM " + shards + " WHERE " + key;
  shard_.lock = shard_.select + " AND " + q("token") + " = ?" + for_update;
  shard_.update = "UPDATE " + shards + " SET " + q("cursor") + " = ?, " + q("updated_at") + " = " +
                  now + " WHERE " + key + " AND " + q("token") + " = ?";

  const auto& metrics = options_.metrics;
  cursor_metrics_ = metrics ? metrics->table(c.table) : null_table_metrics();
  shard_metrics_ = metrics ? metrics->table(options_.shards.table) : null_table_metrics();
}

const std::string& TransactionalCursorsCore::table(const rpatterns::CursorRef& ref) const {
  return ref.shard ? options_.shards.table : options_.cursors.table;
}

template <class Fn>
auto TransactionalCursorsCore::hinted(const rpatterns::CursorRef& ref, Fn&& fn) {
  try {
    return fn();
  } catch (...) {
    rethrow_with_schema_hint(table(ref), ref.shard ? "shards_ddl" : "cursors_ddl", dialect_);
  }
}

std::string TransactionalCursorsCore::describe(const rpatterns::CursorRef& ref) const {
  return "table '" + table(ref) + "'";
}

std::string TransactionalCursorsCore::get(const rpatterns::CursorRef& ref) {
  const std::string_view name = ref.name;
  const auto shard = static_cast<std::int64_t>(ref.shard.value_or(0));
  const std::vector<Param> key =
      ref.shard ? std::vector<Param>{name, shard} : std::vector<Param>{name};
  const std::string& select = ref.shard ? shard_.select : consumer_.select;
  return with_table_session(
      pool_, table(ref), ref.shard ? "shards_ddl" : "cursors_ddl", dialect_, [&](Session& session) {
        std::string stored;
        session.query(select, key, [&](const Row& row) { stored = row.text(0); });
        return stored;
      });
}

void TransactionalCursorsCore::commit(const rpatterns::CursorRef& ref,
                                      std::span<const Event> events, const Apply& apply) {
  if (events.empty()) return;
  const auto shard = static_cast<std::int64_t>(ref.shard.value_or(0));
  const auto token = static_cast<std::int64_t>(ref.token);
  const std::string_view name = ref.name;
  const std::string_view last = events.back().id;
  auto session = hinted(ref, [&] { return begin_transaction(pool_); });
  try {
    std::optional<std::string> stored;
    const auto on_row = [&](const Row& row) { stored = std::string(row.text(0)); };
    hinted(ref, [&] {
      if (ref.shard) {
        const Param params[] = {name, shard, token};
        session->query(shard_.lock, params, on_row);
      } else {
        const Param params[] = {name};
        session->query(consumer_.lock, params, on_row);
      }
    });
    if (ref.shard && !stored) {
      // The row with our token is gone: the lease passed to another member, whose commits the
      // shard's cursor now follows. Nothing of this batch may be applied.
      throw CursorConflict::fenced_out(ref.name + " shard " + std::to_string(*ref.shard), ref.token,
                                       std::string(last), describe(ref));
    }
    const auto fresh = events.subspan(replayed(stored.value_or(""), events));
    if (fresh.empty()) {
      session->rollback();  // all of it was committed before: a replay
      return;
    }
    apply(*session, fresh);
    hinted(ref, [&] {
      if (ref.shard) {
        const Param params[] = {last, name, shard, token};
        session->execute(shard_.update, params);
      } else if (stored) {
        const Param params[] = {last, name};
        session->execute(consumer_.update, params);
      } else {
        try {
          const Param params[] = {name, last};
          session->execute(consumer_.insert, params);
        } catch (const DatabaseError& e) {
          if (e.kind() != DatabaseErrorKind::unique_violation) throw;
          // Another runner committed the consumer's first batch meanwhile: ours is rolled back,
          // since its events may be that runner's too.
          throw CursorConflict(ref.name, "", std::string(last), describe(ref));
        }
      }
    });
    session->commit();
  } catch (const DatabaseError& e) {
    session->rollback();
    if (e.kind() == DatabaseErrorKind::connection) session.discard();
    throw;
  } catch (...) {
    session->rollback();
    throw;
  }
  (ref.shard ? shard_metrics_ : cursor_metrics_)->on_cursor_writes(1);
}

}  // namespace reflex::rsql::detail
