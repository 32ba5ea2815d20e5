// rsql::Inbox: records of handled events in an SQL table, inserted if absent, purged in batches
// by age.
#include "reflex/rsql/inbox.hpp"

#include "access.hpp"
#include "inbox_impl.hpp"
#include "reflex/errors.hpp"
#include "sql_text.hpp"
#include "values.hpp"

namespace reflex::rsql {

namespace detail {

namespace {

/// The width of MariaDB's columns (VARCHAR(255), inbox_ddl): INSERT IGNORE would cut a longer key
/// to fit, and two ids that differ only past it would be taken for one.
constexpr std::size_t kMaxKeyBytes = 255;

std::shared_ptr<Database> checked(std::shared_ptr<Database> database, const InboxOptions& options) {
  if (!database) throw ConfigError("rsql::Inbox needs a database (rsql::Database::open)");
  validate(options.schema);
  if (options.purge_batch == 0) throw ConfigError("rsql::InboxOptions::purge_batch must be > 0");
  if (options.retention.count() <= 0) {
    throw ConfigError("rsql::InboxOptions::retention must be positive (how long records are kept)");
  }
  return database;
}

}  // namespace

InboxImpl::InboxImpl(std::shared_ptr<Database> db, InboxOptions opts)
    : database(checked(std::move(db), opts)),
      options(std::move(opts)),
      dialect(database->dialect()),
      insert(insert_sql("?", "?")),
      pool_(Access::driver(database)) {
  const auto q = [&](std::string_view name) { return quote(dialect, name); };
  const std::string table = q(options.schema.table);
  const std::string key = q("source") + " = ? AND " + q("event_id") + " = ?";
  select_ = "SELECT 1 FROM " + table + " WHERE " + key;
  const std::string old = q("created_at") + " < " + pool_.driver().micros_param_expr();
  // MariaDB has no LIMIT in an IN subquery, but DELETE … LIMIT; the others the other way round.
  purge_ = dialect == Dialect::mysql
               ? "DELETE FROM " + table + " WHERE " + old + " LIMIT ?"
               : "DELETE FROM " + table + " WHERE (" + q("source") + ", " + q("event_id") +
                     ") IN (SELECT " + q("source") + ", " + q("event_id") + " FROM " + table +
                     " WHERE " + old + " LIMIT ?)";
  if (options.purge_interval.count() > 0) {
    purger_ = std::jthread([this](std::stop_token stop) { purge_periodically(stop); });
  }
}

InboxImpl::~InboxImpl() = default;

void InboxImpl::expect_dialect(Dialect expected, std::string_view what) const {
  if (dialect == expected) return;
  throw ConfigError(std::string(what) + " on a " + std::string(to_string(dialect)) +
                    " inbox: pass that database's transaction");
}

void InboxImpl::check(std::string_view source, std::string_view event_id) {
  if (source.empty()) throw ConfigError("inbox record: the source is empty; name the event stream");
  if (source.size() > kMaxKeyBytes || event_id.size() > kMaxKeyBytes) {
    throw ConfigError("inbox record: source and event id must be at most 255 bytes each (got " +
                      std::to_string(source.size()) + " and " + std::to_string(event_id.size()) +
                      ")");
  }
}

std::string InboxImpl::insert_sql(std::string_view source, std::string_view event_id) const {
  const std::string table = quote(dialect, options.schema.table);
  const std::string values = " (" + quote(dialect, "source") + ", " + quote(dialect, "event_id") +
                             ") VALUES (" + std::string(source) + ", " + std::string(event_id) +
                             ")";
  switch (dialect) {
    case Dialect::postgres:
      return "INSERT INTO " + table + values + " ON CONFLICT DO NOTHING";
    case Dialect::mysql:
      return "INSERT IGNORE INTO " + table + values;
    case Dialect::sqlite:
      return "INSERT OR IGNORE INTO " + table + values;
  }
  return {};
}

template <class Fn>
auto InboxImpl::with_session(Fn&& fn) {
  return with_table_session(pool_, options.schema.table, "inbox_ddl", dialect,
                            std::forward<Fn>(fn));
}

bool InboxImpl::contains(std::string_view source, std::string_view event_id) {
  check(source, event_id);
  return with_session([&](Session& session) {
    bool found = false;
    const Param params[] = {source, event_id};
    session.query(select_, params, [&](const Row&) { found = true; });
    return found;
  });
}

bool InboxImpl::record(std::string_view source, std::string_view event_id) {
  check(source, event_id);
  return with_session([&](Session& session) {
    const Param params[] = {source, event_id};
    return session.execute(insert, params) > 0;
  });
}

std::size_t InboxImpl::purge(std::stop_token stop,
                             std::chrono::system_clock::time_point older_than) {
  const Param params[] = {to_micros(older_than), static_cast<std::int64_t>(options.purge_batch)};
  std::size_t purged = 0;
  with_session([&](Session& session) {
    while (!stop.stop_requested()) {
      const auto n = session.execute(purge_, params);
      purged += n;
      if (n < options.purge_batch) break;
    }
    return 0;
  });
  return purged;
}

void InboxImpl::purge_periodically(std::stop_token stop) {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      // Woken only by the stop (the destructor): no polling in between.
      (void)wake_.wait_for(lock, stop, options.purge_interval, [] { return false; });
      if (stop.stop_requested()) return;
    }
    try {
      (void)purge(stop, std::chrono::system_clock::now() - options.retention);
    } catch (const std::exception&) {
      // The next round tries again: a purge that is late only keeps rows longer.
    }
  }
}

}  // namespace detail

Inbox::Inbox(std::shared_ptr<Database> database, InboxOptions options)
    : impl_(std::make_unique<detail::InboxImpl>(std::move(database), std::move(options))) {}

Inbox::~Inbox() = default;

bool Inbox::contains(std::string_view source, std::string_view event_id) {
  return impl_->contains(source, event_id);
}

bool Inbox::record(std::string_view source, std::string_view event_id) {
  return impl_->record(source, event_id);
}

std::size_t Inbox::purge(std::chrono::system_clock::time_point older_than) {
  return impl_->purge({}, older_than);
}

const InboxOptions& Inbox::options() const noexcept {
  return impl_->options;
}

const std::shared_ptr<Database>& Inbox::database() const noexcept {
  return impl_->database;
}

}  // namespace reflex::rsql
