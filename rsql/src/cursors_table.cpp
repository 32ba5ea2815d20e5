#include "reflex/rsql/cursors_table.hpp"

#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "driver.hpp"
#include "reflex/errors.hpp"
#include "reflex/event.hpp"
#include "reflex/rsql/errors.hpp"
#include "sql_text.hpp"

namespace reflex::rsql {

namespace {

using detail::Param;

/// A cursor that compares as a number: decimal digits without a sign or leading zeros. Such
/// cursors order by (length, text), which every dialect compares the same way without casts.
bool is_number(std::string_view cursor) {
  if (cursor.empty() || cursor.size() > 19) return false;
  if (cursor.size() > 1 && cursor.front() == '0') return false;
  for (const char c : cursor) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool number_less(std::string_view a, std::string_view b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

}  // namespace

class CursorsTable::Impl final {
 public:
  Impl(std::shared_ptr<Database> db, CursorsTableOptions opts)
      : database(std::move(db)),
        options(std::move(opts)),
        dialect(database->dialect()),
        pool(std::shared_ptr<detail::Driver>(database, &database->driver())) {
    validate(options.schema);
    const auto& s = options.schema;
    const auto q = [&](std::string_view name) { return detail::quote(dialect, name); };
    const std::string table = q(s.table);
    const std::string name = q(s.name_column);
    const std::string cursor = q(s.cursor_column);
    const std::string now = database->driver().now_expr();
    select_one = "SELECT " + cursor + " FROM " + table + " WHERE " + name + " = ?";
    select_all = "SELECT " + name + ", " + cursor + " FROM " + table + " ORDER BY " + name;
    update_forward = "UPDATE " + table + " SET " + cursor + " = ?, " + q(s.updated_at_column) +
                     " = " + now + " WHERE " + name + " = ? AND (LENGTH(" + cursor +
                     ") < ? OR (LENGTH(" + cursor + ") = ? AND " + cursor + " < ?))";
    update_any = "UPDATE " + table + " SET " + cursor + " = ?, " + q(s.updated_at_column) + " = " +
                 now + " WHERE " + name + " = ?";
    insert = "INSERT INTO " + table + " (" + name + ", " + cursor + ", " + q(s.updated_at_column) +
             ") VALUES (?, ?, " + now + ")";
    remove = "DELETE FROM " + table + " WHERE " + name + " = ?";
    metrics = options.metrics ? options.metrics->table(s.table) : null_table_metrics();
  }

  template <class Fn>
  auto with_session(Fn&& fn) {
    return detail::with_table_session(pool, options.schema.table, "cursors_ddl", dialect,
                                      std::forward<Fn>(fn));
  }

  std::optional<std::string> read(detail::Session& session, std::string_view name) {
    std::optional<std::string> stored;
    const Param params[] = {name};
    session.query(select_one, params, [&](const detail::Row& row) { stored = row.text(0); });
    return stored;
  }

  /// Writes one cursor monotonically (CursorConflict when the stored one is ahead).
  void write(detail::Session& session, std::string_view name, std::string_view cursor, bool force) {
    const bool number = is_number(cursor);
    const auto length = static_cast<std::int64_t>(cursor.size());
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (number && !force) {
        const Param params[] = {cursor, name, length, length, cursor};
        if (session.execute(update_forward, params) > 0) return;
      } else {
        const Param params[] = {cursor, name};
        if (session.execute(update_any, params) > 0) return;
      }
      const auto stored = read(session, name);
      if (!stored) {
        try {
          const Param params[] = {name, cursor};
          session.execute(insert, params);
          return;
        } catch (const DatabaseError& e) {
          if (e.kind() != DatabaseErrorKind::unique_violation) throw;
          continue;  // another writer created the row meanwhile: compare with it
        }
      }
      if (*stored == cursor) return;
      if (number && !force && is_number(*stored) && number_less(cursor, *stored)) {
        throw CursorConflict(std::string(name), *stored, std::string(cursor));
      }
      if (!number || force) return;  // unconditional update matched no change (MySQL)
    }
    throw Error("cursor of consumer '" + std::string(name) +
                "' could not be written: it kept "
                "changing concurrently");
  }

  /// Writes every pending cursor; returns the first failure. A cursor that could not be written
  /// stays pending unless set() recorded a newer one meanwhile; a refused one (CursorConflict) is
  /// dropped, since retrying cannot succeed.
  std::exception_ptr flush_all() noexcept {
    std::lock_guard flush(flush_mutex);
    std::map<std::string, std::string, std::less<>> batch;
    {
      std::lock_guard guard(mutex);
      batch.swap(pending);
    }
    std::exception_ptr first_error;
    std::size_t written = 0;
    for (auto it = batch.begin(); it != batch.end();) {
      try {
        with_session([&](detail::Session& session) {
          write(session, it->first, it->second, false);
          return 0;
        });
        ++written;
        it = batch.erase(it);
      } catch (const CursorConflict&) {
        if (!first_error) first_error = std::current_exception();
        it = batch.erase(it);
      } catch (...) {
        if (!first_error) first_error = std::current_exception();
        ++it;
      }
    }
    metrics->on_cursor_writes(written);
    if (!batch.empty()) {
      std::lock_guard guard(mutex);
      for (auto& [name, cursor] : batch) pending.try_emplace(name, std::move(cursor));
    }
    return first_error;
  }

  std::shared_ptr<Database> database;
  CursorsTableOptions options;
  Dialect dialect;
  detail::SessionPool pool;
  std::shared_ptr<TableMetrics> metrics;
  std::string select_one, select_all, update_forward, update_any, insert, remove;

  std::mutex mutex;  // guards pending
  std::map<std::string, std::string, std::less<>> pending;
  std::mutex flush_mutex;  // one flush at a time, so cursors are written in set() order
  std::condition_variable_any flush_wake;
  std::jthread flusher;
};

CursorsTable::CursorsTable(std::shared_ptr<Database> database, CursorsTableOptions options) {
  if (!database) throw ConfigError("CursorsTable needs a database (rsql::Database::open)");
  impl_ = std::make_shared<Impl>(std::move(database), std::move(options));
  if (impl_->options.flush_interval.count() > 0) {
    impl_->flusher = std::jthread([impl = impl_.get()](std::stop_token stop) {
      std::mutex m;
      std::unique_lock lock(m);
      while (!stop.stop_requested()) {
        impl->flush_wake.wait_for(lock, stop, impl->options.flush_interval, [] { return false; });
        if (stop.stop_requested()) break;
        impl->flush_all();  // failures stay pending for the next round or flush()
      }
    });
  }
}

CursorsTable::~CursorsTable() {
  if (impl_->flusher.joinable()) {
    impl_->flusher.request_stop();
    impl_->flusher.join();
  }
  try {
    flush();
  } catch (...) {
    // Documented: the destructor's last attempt swallows errors (call flush() to see them).
  }
}

std::string CursorsTable::get(std::string_view name) {
  {
    std::lock_guard lock(impl_->mutex);
    if (auto it = impl_->pending.find(name); it != impl_->pending.end()) return it->second;
  }
  return impl_->with_session(
      [&](detail::Session& session) { return impl_->read(session, name).value_or(std::string()); });
}

void CursorsTable::set(std::string_view name, std::string_view cursor) {
  if (name.empty()) throw ConfigError("a cursor needs a consumer name");
  if (impl_->options.flush_interval.count() == 0) {
    std::lock_guard flush(impl_->flush_mutex);
    impl_->with_session([&](detail::Session& session) {
      impl_->write(session, name, cursor, false);
      return 0;
    });
    impl_->metrics->on_cursor_writes(1);
    return;
  }
  std::lock_guard lock(impl_->mutex);
  impl_->pending.insert_or_assign(std::string(name), std::string(cursor));
}

void CursorsTable::flush() {
  if (auto error = impl_->flush_all()) std::rethrow_exception(error);
}

std::vector<std::pair<std::string, std::string>> CursorsTable::list() {
  flush();
  return impl_->with_session([&](detail::Session& session) {
    std::vector<std::pair<std::string, std::string>> out;
    session.query(impl_->select_all, {}, [&](const detail::Row& row) {
      out.emplace_back(std::string(row.text(0)), std::string(row.text(1)));
    });
    return out;
  });
}

void CursorsTable::force_set(std::string_view name, std::string_view cursor) {
  if (name.empty()) throw ConfigError("a cursor needs a consumer name");
  std::lock_guard flush(impl_->flush_mutex);
  {
    std::lock_guard guard(impl_->mutex);
    if (auto it = impl_->pending.find(name); it != impl_->pending.end()) impl_->pending.erase(it);
  }
  impl_->with_session([&](detail::Session& session) {
    impl_->write(session, name, cursor, true);
    return 0;
  });
}

bool CursorsTable::remove(std::string_view name) {
  std::lock_guard flush(impl_->flush_mutex);
  {
    std::lock_guard guard(impl_->mutex);
    if (auto it = impl_->pending.find(name); it != impl_->pending.end()) impl_->pending.erase(it);
  }
  return impl_->with_session([&](detail::Session& session) {
    const Param params[] = {name};
    return session.execute(impl_->remove, params) > 0;
  });
}

std::vector<std::string> CursorsTable::pending() const {
  std::lock_guard guard(impl_->mutex);
  std::vector<std::string> names;
  for (const auto& entry : impl_->pending) names.push_back(entry.first);
  return names;
}

}  // namespace reflex::rsql
