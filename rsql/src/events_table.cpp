#include "reflex/rsql/events_table.hpp"

#include <algorithm>
#include <limits>
#include <span>
#include <string>
#include <utility>

#include "events_table_impl.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/cursors_table.hpp"
#include "reflex/wait.hpp"
#include "sql_text.hpp"

namespace reflex::rsql {

namespace {

using Clock = std::chrono::steady_clock;
using detail::HoleDecision;
using detail::Param;
using detail::ReadResult;

constexpr std::chrono::milliseconds kMaxGapBackoff{100};

/// One stream's own connection and gap policy: keyset reads that stop before a hole that may
/// still fill.
class Reader final {
 public:
  explicit Reader(std::shared_ptr<EventsTable::Impl> table) : table_(std::move(table)) {}

  ReadResult read(std::int64_t after, std::size_t limit) {
    try {
      return read_checked(after, limit);
    } catch (...) {
      if (session_ && session_->broken()) session_.reset();
      detail::rethrow_with_schema_hint(table_->options.schema.table, "events_ddl", table_->dialect);
    }
  }

  std::int64_t head() {
    try {
      std::int64_t id = 0;
      const std::string sql = "SELECT MAX(" +
                              detail::quote(table_->dialect, table_->options.schema.id_column) +
                              ") FROM " + table_->quoted_table;
      session().query(sql, {}, [&](const detail::Row& row) {
        if (!row.is_null(0)) id = row.int64(0);
      });
      return id;
    } catch (...) {
      if (session_ && session_->broken()) session_.reset();
      detail::rethrow_with_schema_hint(table_->options.schema.table, "events_ddl", table_->dialect);
    }
  }

 private:
  detail::Session& session() {
    if (!session_) {
      session_ = table_->driver.connect();
      policy_ = table_->driver.make_gap_policy(table_->context);
    }
    return *session_;
  }

  ReadResult read_checked(std::int64_t after, std::size_t limit) {
    auto& metrics = *table_->context.metrics;
    auto& gap = *table_->context.gap;
    const bool has_metadata = !table_->options.schema.metadata_column.empty();
    const bool has_trace = !table_->options.schema.trace_column.empty();
    for (int attempt = 0;; ++attempt) {
      rows_.clear();
      ids_.clear();
      // Loaded before the query: ids up to it are final, so every committed one among them is in
      // the query's snapshot. A value raised by another reader after our snapshot was taken does
      // not cover commits our snapshot missed.
      const std::int64_t settled = gap.settled.load(std::memory_order_acquire);
      const auto started = Clock::now();
      const Param params[] = {after, static_cast<std::int64_t>(limit)};
      session().query(table_->select_sql, params, [&](const detail::Row& row) {
        ids_.push_back(row.int64(0));
        Event& e = rows_.emplace_back();
        e.type = static_cast<int>(row.int64(1));
        e.foreign_id = row.text(2);
        // int64() of NULL is 0 and text() of NULL is empty: no separate NULL checks per row.
        e.timestamp = detail::from_micros(row.int64(3));
        int column = 4;
        if (has_metadata) e.metadata = row.text(column++);
        if (has_trace) e.trace = row.text(column);
      });
      metrics.on_poll(Clock::now() - started, rows_.size());

      ReadResult result;
      result.position = after;
      result.full = rows_.size() >= limit;
      result.events.reserve(rows_.size());
      std::int64_t prev = after;
      // Holes up to here need no decision: below `settled`, or passed together with an earlier one.
      std::int64_t complete = settled;
      bool reread = false;
      for (std::size_t i = 0; i < rows_.size(); ++i) {
        const std::int64_t id = ids_[i];
        if (id != prev + 1 && id > complete) {
          const detail::HoleVerdict verdict =
              policy_->on_hole(*session_, detail::Hole{.prev = prev,
                                                       .ids = std::span(ids_).subspan(i),
                                                       .rows = std::span(rows_).subspan(i)});
          if (verdict.decision == HoleDecision::reread && attempt < 3) {
            reread = true;
            break;
          }
          if (verdict.decision != HoleDecision::pass) {
            note_blocked(prev);
            result.blocked = true;
            result.full = false;
            break;
          }
          complete = std::max(complete, verdict.through);
        }
        if (!detail::is_noop(rows_[i].type, rows_[i].foreign_id)) {
          rows_[i].id = std::to_string(id);
          result.events.push_back(std::move(rows_[i]));
        }
        prev = id;
      }
      if (reread) {
        // The horizon moved or the hole was filled: what we read past it may be incomplete.
        after = prev;
        if (!result.events.empty() || prev != result.position) {
          result.position = prev;
          note_passed(prev);
          return result;
        }
        continue;
      }
      result.position = prev;
      if (!result.blocked) note_passed(prev);
      return result;
    }
  }

  void note_blocked(std::int64_t at) {
    auto& gap = *table_->context.gap;
    std::lock_guard lock(gap.mutex);
    const auto now = Clock::now();
    if (gap.hole_at != at) {
      gap.hole_at = at;
      gap.hole_since = now;
      table_->context.metrics->on_gap_detected();
    }
    table_->context.metrics->set_blocked(now - gap.hole_since);
  }

  void note_passed(std::int64_t position) {
    auto& gap = *table_->context.gap;
    std::lock_guard lock(gap.mutex);
    if (gap.hole_at >= 0 && position > gap.hole_at) {
      gap.hole_at = -1;
      table_->context.metrics->on_gap_filled();
      table_->context.metrics->set_blocked(std::chrono::nanoseconds{0});
    }
  }

  std::shared_ptr<EventsTable::Impl> table_;
  std::unique_ptr<detail::Session> session_;
  std::unique_ptr<detail::GapPolicy> policy_;
  std::vector<Event> rows_;
  std::vector<std::int64_t> ids_;
};

/// A stream of one consumer: serves from the table's head cache when its position is inside it,
/// joins (or leads) the shared fetch at the head, and reads on its own connection when behind.
class SqlStream final : public StreamClient {
 public:
  SqlStream(std::shared_ptr<EventsTable::Impl> table, std::stop_token stop, std::int64_t position,
            const StreamOptions& options)
      : table_(std::move(table)),
        stop_(std::move(stop)),
        options_(options),
        position_(position),
        reader_(table_) {}

  Event recv() override {
    while (next_ >= buffer_.size()) {
      buffer_.clear();
      next_ = 0;
      fill();
    }
    Event event = std::move(buffer_[next_++]);
    if (options_.lag.count() > 0) {
      const auto due = event.timestamp + options_.lag;
      if (due > std::chrono::system_clock::now() && !sleep_until(stop_, due)) {
        throw Canceled();
      }
    }
    return event;
  }

  std::optional<std::uint64_t> remaining() const override {
    return static_cast<std::uint64_t>(buffer_.size() - next_);
  }

 private:
  using Impl = EventsTable::Impl;

  void fill() {
    auto& t = *table_;
    auto& c = t.cache;
    const std::size_t batch = t.options.batch_size;
    std::unique_lock lock(t.mutex);
    // to_head: HeadReached once a read that started after we got here found nothing more and
    // was not held back by a hole (a hole means events exist beyond it: wait for them).
    bool at_head = false;
    bool held_by_hole = false;
    for (;;) {
      if (stop_.stop_requested()) throw Canceled();
      if (c.valid && position_ >= c.begin && position_ < c.end) {
        copy_from_cache(batch);
        t.context.metrics->on_cache(true);
        return;
      }
      if (c.valid && position_ == c.end) {
        if (at_head && options_.to_head) throw HeadReached();
        if (c.fetching) {
          t.wake.wait(lock, stop_, [&] { return !c.fetching; });
          continue;
        }
        if ((!options_.to_head || held_by_hole) && c.fetched_generation == t.wake_generation &&
            Clock::now() < c.next_poll) {
          // By value: wait_until reads the deadline while the lock is released, and the leader
          // of the next fetch rewrites c.next_poll.
          const auto generation = t.wake_generation;
          const auto deadline = c.next_poll;
          t.wake.wait_until(lock, stop_, deadline, [&] {
            return t.wake_generation != generation || c.fetching || position_ != c.end || !c.valid;
          });
          continue;
        }
        const ReadOutcome outcome = fetch(lock);
        at_head = outcome == ReadOutcome::at_head;
        held_by_hole = outcome == ReadOutcome::held_by_hole;
        continue;
      }
      // Outside the cache: read on our own connection.
      lock.unlock();
      t.context.metrics->on_cache(false);
      ReadResult r = reader_.read(position_, batch);
      lock.lock();
      if (r.position != position_) {
        position_ = r.position;
        buffer_ = std::move(r.events);
        if (!buffer_.empty()) return;
        continue;
      }
      if (options_.to_head && !r.blocked) throw HeadReached();
      held_by_hole = r.blocked;
      // Nothing after us (or a hole first): we are at the head. Seat the cache here unless it is
      // in use ahead.
      if (!c.fetching && (!c.valid || c.end < position_ || position_ < c.begin)) {
        c.valid = true;
        c.begin = c.end = position_;
        c.events.clear();
        c.fetched_generation = t.wake_generation;
        schedule(c, r, t, false);
      } else if (c.valid && position_ > c.end) {
        // Another stream is fetching behind us; wait for it, then look again.
        t.wake.wait(lock, stop_, [&] { return !c.fetching; });
      }
    }
  }

  enum class ReadOutcome { progressed, at_head, held_by_hole };

  /// Leads one shared fetch at the head.
  ReadOutcome fetch(std::unique_lock<std::mutex>& lock) {
    auto& t = *table_;
    auto& c = t.cache;
    c.fetching = true;
    c.fetched_generation = t.wake_generation;
    const std::int64_t from = c.end;
    lock.unlock();
    ReadResult r;
    try {
      r = reader_.read(from, t.options.batch_size);
    } catch (...) {
      lock.lock();
      c.fetching = false;
      c.next_poll = Clock::now() + c.backoff;
      t.wake.notify_all();
      throw;
    }
    lock.lock();
    c.fetching = false;
    const bool nothing = r.position == from;
    if (c.valid && c.end == from) {
      for (auto& e : r.events) c.events.push_back(std::move(e));
      c.end = r.position;
      while (c.events.size() > t.options.cache_size) {
        c.begin = c.events.front().id_int();
        c.events.pop_front();
      }
    }
    schedule(c, r, t, !nothing);
    t.wake.notify_all();
    if (!nothing) return ReadOutcome::progressed;
    return r.blocked ? ReadOutcome::held_by_hole : ReadOutcome::at_head;
  }

  /// When the next poll at the head may run: at once after a full batch, soon while a hole
  /// blocks, backing off to the idle interval while nothing comes.
  static void schedule(Impl::Cache& c, const ReadResult& r, Impl& t, bool progressed) {
    using std::chrono::milliseconds;
    const auto now = Clock::now();
    if (r.full) {
      c.backoff = milliseconds(1);
      c.next_poll = now;
    } else if (r.blocked) {
      c.backoff = std::min(std::max(c.backoff * 2, milliseconds(1)), kMaxGapBackoff);
      c.next_poll = now + c.backoff;
    } else if (progressed) {
      // With cross-process notifications every commit announces itself: wait for the next one,
      // the idle poll staying as the safety net (no empty polls between events). Without them,
      // poll again soon while events flow.
      c.backoff = t.cross_listening() ? t.idle_poll() : milliseconds(1);
      c.next_poll = now + c.backoff;
    } else {
      c.backoff = std::min(c.backoff * 2, t.idle_poll());
      c.next_poll = now + c.backoff;
    }
  }

  void copy_from_cache(std::size_t batch) {
    auto& c = table_->cache;
    auto it = std::upper_bound(c.events.begin(), c.events.end(), position_,
                               [](std::int64_t pos, const Event& e) { return pos < e.id_int(); });
    buffer_.reserve(std::min<std::size_t>(batch, static_cast<std::size_t>(c.events.end() - it)));
    for (; it != c.events.end() && buffer_.size() < batch; ++it) buffer_.push_back(*it);
    position_ = it == c.events.end() ? c.end : buffer_.back().id_int();
  }

  std::shared_ptr<Impl> table_;
  std::stop_token stop_;
  StreamOptions options_;
  std::int64_t position_;
  Reader reader_;
  std::vector<Event> buffer_;
  std::size_t next_ = 0;
};

}  // namespace

// --- Impl ----------------------------------------------------------------------------------------

EventsTable::Impl::Impl(std::shared_ptr<Database> db, EventsTableOptions opts)
    : database(std::move(db)),
      options(std::move(opts)),
      driver(database->driver()),
      dialect(database->dialect()),
      pool(std::shared_ptr<detail::Driver>(database, &database->driver())) {
  validate(options.schema);
  if (options.batch_size == 0) throw ConfigError("EventsTableOptions::batch_size must be > 0");
  if (options.cache_size < options.batch_size) options.cache_size = options.batch_size;
  const auto& s = options.schema;
  const auto q = [&](std::string_view name) { return detail::quote(dialect, name); };
  quoted_table = q(s.table);
  context.schema = s;
  context.gap_grace = options.gap_grace;
  context.metrics = options.metrics ? options.metrics->table(s.table) : null_table_metrics();
  context.gap = std::make_shared<detail::GapState>();
  select_sql = "SELECT " + q(s.id_column) + ", " + q(s.type_column) + ", " +
               q(s.foreign_id_column) + ", " + driver.micros_expr(q(s.timestamp_column));
  if (!s.metadata_column.empty()) select_sql += ", " + q(s.metadata_column);
  if (!s.trace_column.empty()) select_sql += ", " + q(s.trace_column);
  select_sql += " FROM " + quoted_table + " WHERE " + q(s.id_column) + " > ? ORDER BY " +
                q(s.id_column) + " LIMIT ?";
}

EventsTable::Impl::~Impl() = default;

bool EventsTable::Impl::cross_listening() const noexcept {
  const auto* cross = cross_ptr_.load(std::memory_order_acquire);
  return cross && cross->listening();
}

std::chrono::milliseconds EventsTable::Impl::idle_poll() const noexcept {
  return cross_listening() ? options.notified_poll_interval : options.poll_interval;
}

void EventsTable::Impl::notify() noexcept {
  {
    std::lock_guard lock(mutex);
    ++wake_generation;
  }
  wake.notify_all();
  if (options.cross_process_notify) {
    try {
      ensure_cross_notifier();
    } catch (...) {
      return;  // no cross-process wake-up: other processes see the commit at their next poll
    }
    if (auto* cross = cross_ptr_.load(std::memory_order_acquire)) cross->poke();
  }
}

void EventsTable::Impl::listen_cross_process() {
  ensure_cross_notifier();
  if (auto* cross = cross_ptr_.load(std::memory_order_acquire)) cross->listen();
}

void EventsTable::Impl::ensure_cross_notifier() {
  if (!options.cross_process_notify) return;
  std::call_once(cross_once_, [this] {
    std::weak_ptr<Impl> weak = weak_from_this();
    cross_ = driver.make_cross_notifier(options.schema, [weak] {
      if (auto self = weak.lock()) {
        {
          std::lock_guard lock(self->mutex);
          ++self->wake_generation;
        }
        self->wake.notify_all();
      }
    });
    cross_ptr_.store(cross_.get(), std::memory_order_release);
  });
}

std::string EventsTable::Impl::insert_columns(bool with_timestamp) const {
  const auto& s = options.schema;
  const auto q = [&](std::string_view name) { return detail::quote(dialect, name); };
  std::string columns = q(s.foreign_id_column) + ", " + q(s.type_column);
  if (!s.metadata_column.empty()) columns += ", " + q(s.metadata_column);
  if (!s.trace_column.empty()) columns += ", " + q(s.trace_column);
  if (with_timestamp) columns += ", " + q(s.timestamp_column);
  return columns;
}

void EventsTable::Impl::check(const NewEvent& event) const {
  detail::check_new_event(
      detail::InsertLimits{.table = options.schema.table,
                           .has_metadata = !options.schema.metadata_column.empty(),
                           .has_trace = !options.schema.trace_column.empty(),
                           .max_metadata_bytes = options.max_metadata_bytes,
                           .max_trace_bytes = options.max_trace_bytes},
      event.foreign_id.str(), event.type, event.metadata, event.trace);
}

// --- EventsTable ---------------------------------------------------------------------------------

EventsTable::EventsTable(std::shared_ptr<Database> database, EventsTableOptions options) {
  if (!database) throw ConfigError("EventsTable needs a database (rsql::Database::open)");
  impl_ = std::make_shared<Impl>(std::move(database), std::move(options));
}

void EventsTable::check() const {
  const Param params[] = {std::int64_t{0}, std::int64_t{0}};
  detail::with_table_session(impl_->pool, impl_->options.schema.table, "events_ddl", impl_->dialect,
                             [&](detail::Session& session) {
                               session.query(impl_->select_sql, params, [](const detail::Row&) {});
                               return 0;
                             });
}

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
              std::vector<Param> params;
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

void EventsTable::notify() const {
  impl_->notify();
}

std::unique_ptr<StreamClient> EventsTable::stream(std::stop_token stop, std::string_view after,
                                                  const StreamOptions& options) const {
  std::int64_t position = detail::parse_cursor(after, impl_->options.schema.table);
  impl_->listen_cross_process();
  if (options.from_head) {
    Reader reader(impl_);
    position = reader.head();
  }
  return std::make_unique<SqlStream>(impl_, std::move(stop), position, options);
}

StreamFunc EventsTable::stream_func() const {
  return
      [table = *this](std::stop_token stop, std::string_view after, const StreamOptions& options) {
        return table.stream(std::move(stop), after, options);
      };
}

std::string EventsTable::head() const {
  Reader reader(impl_);
  const auto id = reader.head();
  return id == 0 ? std::string() : std::to_string(id);
}

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
                                 const Param select_params[] = {
                                     floor, cutoff, static_cast<std::int64_t>(options.batch_size)};
                                 session.query(select, select_params, [&](const detail::Row& row) {
                                   if (first < 0) first = row.int64(0);
                                   last = row.int64(0);
                                 });
                                 if (first < 0) break;
                                 const Param remove_params[] = {first, last, cutoff};
                                 deleted += session.execute(remove, remove_params);
                               }
                               return 0;
                             });
  return deleted;
}

const EventsTableOptions& EventsTable::options() const noexcept {
  return impl_->options;
}
const std::shared_ptr<Database>& EventsTable::database() const noexcept {
  return impl_->database;
}

}  // namespace reflex::rsql
