// CacheTable and MutexTable: one short transaction per call, the same SQL for every dialect but
// the upsert (PostgreSQL and SQLite: ON CONFLICT; MariaDB: ON DUPLICATE KEY).

#include "reflex/rstate/cache.hpp"

#include <atomic>

#include "hints.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/errors.hpp"
#include "sql_names.hpp"

namespace reflex::rstate {

namespace {

std::int64_t ns_of(std::optional<Clock::time_point> time) {
  // 0 is "never"; a time at or before the epoch is long past: 1 ns after it.
  if (!time) return 0;
  const auto ns = detail::to_ns(*time);
  return ns > 0 ? ns : 1;
}

std::int64_t now_ns() {
  return detail::to_ns(Clock::now());
}

std::string key_where(rsql::Dialect dialect) {
  return " WHERE " + detail::quote(dialect, "domain") + " = ? AND " +
         detail::quote(dialect, "key") + " = ?";
}

/// Runs `work` in a transaction; a missing table becomes a SchemaError naming `what`.
template <class Work>
void transact(const rsql::Database& database, const std::string& what, const char* helper,
              const char* flag, Work&& work) {
  try {
    database.transact(work);
  } catch (...) {
    detail::rethrow_with_hint(what, helper, flag);
  }
}

}  // namespace

struct CacheTable::Impl {
  std::shared_ptr<rsql::Database> database;
  std::string what;
  std::string upsert, select, erase, erase_expired, purge;
  /// set() removes the expired rows of the whole table every kPurgeEvery calls.
  static constexpr unsigned kPurgeEvery = 256;
  mutable std::atomic<unsigned> sets{0};
};

CacheTable::CacheTable(std::shared_ptr<rsql::Database> database, CacheSchema schema) {
  if (!database) throw ConfigError("CacheTable needs a database");
  rsql::validate_identifier("cache table", schema.table);
  const auto dialect = database->dialect();
  const auto q = [&](std::string_view name) { return detail::quote(dialect, name); };
  auto impl = std::make_shared<Impl>();
  impl->database = std::move(database);
  impl->what = "the cache table '" + schema.table + "'";
  const std::string table = q(schema.table);
  impl->upsert = "INSERT INTO " + table + " (" + q("domain") + ", " + q("key") + ", " + q("value") +
                 ", " + q("expires_ns") + ") VALUES (?, ?, ?, ?)";
  if (dialect == rsql::Dialect::mysql) {
    impl->upsert += " ON DUPLICATE KEY UPDATE " + q("value") + " = VALUES(" + q("value") + "), " +
                    q("expires_ns") + " = VALUES(" + q("expires_ns") + ")";
  } else {
    impl->upsert += " ON CONFLICT (" + q("domain") + ", " + q("key") + ") DO UPDATE SET " +
                    q("value") + " = excluded." + q("value") + ", " + q("expires_ns") +
                    " = excluded." + q("expires_ns");
  }
  impl->select =
      "SELECT " + q("value") + ", " + q("expires_ns") + " FROM " + table + key_where(dialect);
  impl->erase = "DELETE FROM " + table + key_where(dialect);
  impl->erase_expired =
      impl->erase + " AND " + q("expires_ns") + " <> 0 AND " + q("expires_ns") + " <= ?";
  impl->purge = "DELETE FROM " + table + " WHERE " + q("expires_ns") + " <> 0 AND " +
                q("expires_ns") + " <= ?";
  impl_ = std::move(impl);
}

void CacheTable::set(std::string_view domain, std::string_view key, std::string_view value,
                     std::optional<Clock::time_point> expires) const {
  const rsql::SqlParam params[] = {domain, key, rsql::SqlBytes{value}, ns_of(expires)};
  const bool purge = impl_->sets.fetch_add(1, std::memory_order_relaxed) % Impl::kPurgeEvery == 0;
  transact(*impl_->database, impl_->what, "cache_ddl", "--cache", [&](rsql::Sql& sql) {
    (void)sql.execute(impl_->upsert, params);
    if (purge) {
      const rsql::SqlParam now[] = {now_ns()};
      (void)sql.execute(impl_->purge, now);
    }
  });
}

std::optional<std::pair<std::string, std::optional<Clock::time_point>>> CacheTable::get(
    std::string_view domain, std::string_view key) const {
  const rsql::SqlParam params[] = {domain, key};
  std::optional<std::pair<std::string, std::optional<Clock::time_point>>> out;
  transact(*impl_->database, impl_->what, "cache_ddl", "--cache", [&](rsql::Sql& sql) {
    const std::int64_t now = now_ns();
    bool expired = false;
    sql.query(impl_->select, params, [&](const rsql::SqlRow& row) {
      const std::int64_t expires = row.int64(1);
      if (expires != 0 && expires <= now) {
        expired = true;
        return;
      }
      std::optional<Clock::time_point> when;
      if (expires != 0) {
        when = Clock::time_point(
            std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(expires)));
      }
      out.emplace(std::string(row.text(0)), when);
    });
    if (expired) {
      // Gone for every reader already; the row goes too, in the same transaction (unless a set
      // renewed it meanwhile: the condition is checked again).
      const rsql::SqlParam stale[] = {domain, key, now};
      (void)sql.execute(impl_->erase_expired, stale);
    }
  });
  return out;
}

bool CacheTable::erase(std::string_view domain, std::string_view key) const {
  const rsql::SqlParam params[] = {domain, key};
  std::uint64_t erased = 0;
  transact(*impl_->database, impl_->what, "cache_ddl", "--cache",
           [&](rsql::Sql& sql) { erased = sql.execute(impl_->erase, params); });
  return erased > 0;
}

struct MutexTable::Impl {
  std::shared_ptr<rsql::Database> database;
  std::string what;
  std::string take, release;
};

MutexTable::MutexTable(std::shared_ptr<rsql::Database> database, MutexesSchema schema) {
  if (!database) throw ConfigError("MutexTable needs a database");
  rsql::validate_identifier("mutexes table", schema.table);
  const auto dialect = database->dialect();
  const auto q = [&](std::string_view name) { return detail::quote(dialect, name); };
  auto impl = std::make_shared<Impl>();
  impl->database = std::move(database);
  impl->what = "the mutexes table '" + schema.table + "'";
  const std::string table = q(schema.table);
  // One statement: inserts the lock, or takes over an expired one, or changes nothing while it
  // is held; the row's key lock makes concurrent takers wait for each other, so one wins.
  impl->take = "INSERT INTO " + table + " (" + q("domain") + ", " + q("key") + ", " +
               q("expires_ns") + ") VALUES (?, ?, ?)";
  const std::string expired = q("expires_ns") + " <> 0 AND " + q("expires_ns") + " <= ?";
  if (dialect == rsql::Dialect::mysql) {
    // Rows affected: 1 inserted, 2 updated, 0 unchanged (the connection does not ask for
    // found rows).
    impl->take += " ON DUPLICATE KEY UPDATE " + q("expires_ns") + " = IF(" + expired + ", VALUES(" +
                  q("expires_ns") + "), " + q("expires_ns") + ")";
  } else {
    impl->take += " ON CONFLICT (" + q("domain") + ", " + q("key") + ") DO UPDATE SET " +
                  q("expires_ns") + " = excluded." + q("expires_ns") + " WHERE " + table + "." +
                  q("expires_ns") + " <> 0 AND " + table + "." + q("expires_ns") + " <= ?";
  }
  impl->release = "DELETE FROM " + table + key_where(dialect) + " AND (" + q("expires_ns") +
                  " = 0 OR " + q("expires_ns") + " > ?)";
  impl_ = std::move(impl);
}

bool MutexTable::lock(std::string_view domain, std::string_view key,
                      std::optional<Clock::time_point> expires) const {
  const rsql::SqlParam params[] = {domain, key, ns_of(expires), now_ns()};
  for (int attempt = 1;; ++attempt) {
    try {
      std::uint64_t changed = 0;
      transact(*impl_->database, impl_->what, "mutexes_ddl", "--mutexes",
               [&](rsql::Sql& sql) { changed = sql.execute(impl_->take, params); });
      return changed > 0;
    } catch (const rsql::DatabaseError& e) {
      if (e.kind() != rsql::DatabaseErrorKind::transient || attempt >= 5) throw;
    }
  }
}

bool MutexTable::unlock(std::string_view domain, std::string_view key) const {
  const rsql::SqlParam params[] = {domain, key, now_ns()};
  std::uint64_t released = 0;
  transact(*impl_->database, impl_->what, "mutexes_ddl", "--mutexes",
           [&](rsql::Sql& sql) { released = sql.execute(impl_->release, params); });
  return released > 0;
}

}  // namespace reflex::rstate
