// The SQL storage of CursorsTable: one row per consumer, written forward only in SQL.
#include "reflex/rsql/cursors_table.hpp"

#include "access.hpp"
#include "cursor_order.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/errors.hpp"
#include "session_pool.hpp"
#include "sql_text.hpp"

namespace reflex::rsql {

namespace {

using detail::is_number;
using detail::number_less;
using detail::Param;

/// Thread-safety: every member may be called from any thread (each call leases its own session).
class SqlCursorStorage final : public CursorStorage {
  // First: the members below deduce their return types from it.
  template <class Fn>
  auto with_session(Fn&& fn) {
    return detail::with_table_session(pool_, schema_.table, "cursors_ddl", dialect_,
                                      std::forward<Fn>(fn));
  }

 public:
  SqlCursorStorage(std::shared_ptr<Database> database, CursorsSchema schema)
      : database_(std::move(database)),
        schema_(std::move(schema)),
        dialect_(database_->dialect()),
        pool_(detail::Access::driver(database_)) {
    validate(schema_);
    const auto q = [&](std::string_view name) { return detail::quote(dialect_, name); };
    const std::string table = q(schema_.table);
    const std::string name = q(schema_.name_column);
    const std::string cursor = q(schema_.cursor_column);
    const std::string now = pool_.driver().now_expr();
    select_one_ = "SELECT " + cursor + " FROM " + table + " WHERE " + name + " = ?";
    select_all_ = "SELECT " + name + ", " + cursor + " FROM " + table + " ORDER BY " + name;
    update_forward_ = "UPDATE " + table + " SET " + cursor + " = ?, " +
                      q(schema_.updated_at_column) + " = " + now + " WHERE " + name + " = ? AND " +
                      detail::forward_condition(cursor);
    update_any_ = "UPDATE " + table + " SET " + cursor + " = ?, " + q(schema_.updated_at_column) +
                  " = " + now + " WHERE " + name + " = ?";
    insert_ = "INSERT INTO " + table + " (" + name + ", " + cursor + ", " +
              q(schema_.updated_at_column) + ") VALUES (?, ?, " + now + ")";
    remove_ = "DELETE FROM " + table + " WHERE " + name + " = ?";
  }

  std::optional<std::string> read(std::string_view name) override {
    return with_session([&](detail::Session& session) { return read(session, name); });
  }

  void write(std::string_view name, std::string_view cursor) override {
    with_session([&](detail::Session& session) {
      write(session, name, cursor, false);
      return 0;
    });
  }

  void force_write(std::string_view name, std::string_view cursor) override {
    with_session([&](detail::Session& session) {
      write(session, name, cursor, true);
      return 0;
    });
  }

  bool remove(std::string_view name) override {
    return with_session([&](detail::Session& session) {
      const Param params[] = {name};
      return session.execute(remove_, params) > 0;
    });
  }

  std::vector<std::pair<std::string, std::string>> list() override {
    return with_session([&](detail::Session& session) {
      std::vector<std::pair<std::string, std::string>> out;
      session.query(select_all_, {}, [&](const detail::Row& row) {
        out.emplace_back(std::string(row.text(0)), std::string(row.text(1)));
      });
      return out;
    });
  }

  std::string describe() const override { return "table '" + schema_.table + "'"; }

 private:
  std::optional<std::string> read(detail::Session& session, std::string_view name) {
    std::optional<std::string> stored;
    const Param params[] = {name};
    session.query(select_one_, params, [&](const detail::Row& row) { stored = row.text(0); });
    return stored;
  }

  /// One cursor, monotonically unless `force`: a numeric cursor is only updated to a greater one
  /// (CursorConflict when the stored one is ahead); the row is created when missing.
  void write(detail::Session& session, std::string_view name, std::string_view cursor, bool force) {
    const bool number = is_number(cursor);
    const auto length = static_cast<std::int64_t>(cursor.size());
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (number && !force) {
        const Param params[] = {cursor, name, length, length, cursor};
        if (session.execute(update_forward_, params) > 0) return;
      } else {
        const Param params[] = {cursor, name};
        if (session.execute(update_any_, params) > 0) return;
      }
      const auto stored = read(session, name);
      if (!stored) {
        try {
          const Param params[] = {name, cursor};
          session.execute(insert_, params);
          return;
        } catch (const DatabaseError& e) {
          if (e.kind() != DatabaseErrorKind::unique_violation) throw;
          continue;  // another writer created the row meanwhile: compare with it
        }
      }
      if (*stored == cursor) return;
      if (number && !force && is_number(*stored) && number_less(cursor, *stored)) {
        throw CursorConflict(std::string(name), *stored, std::string(cursor), describe());
      }
      if (!number || force) return;  // unconditional update matched no change (MySQL)
      if (!is_number(*stored)) {
        // Only numbers are ordered: a number replaces a cursor that is none (an operator's
        // force_set, a store written by another tool) as any write would.
        const Param params[] = {cursor, name};
        if (session.execute(update_any_, params) > 0) return;
      }
    }
    throw Error("cursor of consumer '" + std::string(name) + "' in " + describe() +
                " could not be written: its row kept changing concurrently");
  }

  std::shared_ptr<Database> database_;
  CursorsSchema schema_;
  Dialect dialect_;
  detail::SessionPool pool_;
  std::string select_one_, select_all_, update_forward_, update_any_, insert_, remove_;
};

BufferedCursorStoreOptions buffer_options(const std::shared_ptr<Database>& database,
                                          const CursorsTableOptions& options) {
  if (!database) throw ConfigError("CursorsTable needs a database (rsql::Database::open)");
  auto metrics =
      options.metrics ? options.metrics->table(options.schema.table) : null_table_metrics();
  return {.flush_interval = options.flush_interval,
          .on_written = [metrics](std::size_t n) { metrics->on_cursor_writes(n); }};
}

std::unique_ptr<CursorStorage> make_storage(std::shared_ptr<Database> database,
                                            CursorsSchema schema) {
  if (!database) throw ConfigError("CursorsTable needs a database (rsql::Database::open)");
  return std::make_unique<SqlCursorStorage>(std::move(database), std::move(schema));
}

}  // namespace

CursorsTable::CursorsTable(std::shared_ptr<Database> database, CursorsTableOptions options)
    : BufferedCursorStore(make_storage(database, options.schema),
                          buffer_options(database, options)) {}

}  // namespace reflex::rsql
