#include "reflex/rsql/events_table.hpp"

#include <string>
#include <utility>

#include "access.hpp"
#include "events_table_impl.hpp"
#include "head_cache.hpp"
#include "reader.hpp"
#include "reflex/encoding.hpp"
#include "reflex/errors.hpp"
#include "session_pool.hpp"
#include "sql_text.hpp"
#include "values.hpp"

namespace reflex::rsql {

namespace detail {

namespace {

/// `bytes` for a message: printable ASCII as it is, every other byte as \xNN.
std::string quote_bytes(std::string_view bytes) {
  std::string out = "\"";
  for (const unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x" + hex_encode(std::string_view(reinterpret_cast<const char*>(&c), 1));
    }
  }
  return out + "\"";
}

}  // namespace

EventsTableImpl::EventsTableImpl(std::shared_ptr<Database> db, EventsTableOptions opts)
    : database(std::move(db)),
      options(std::move(opts)),
      driver(Access::driver(*database)),
      dialect(database->dialect()),
      pool(Access::driver(database)) {
  validate(options.schema);
  if (options.batch_size == 0) throw ConfigError("EventsTableOptions::batch_size must be > 0");
  if (options.gap_grace && options.gap_grace->count() < 0) {
    throw ConfigError(
        "EventsTableOptions::gap_grace must not be negative (0: probe a hole at once)");
  }
  if (options.cache_size < options.batch_size) options.cache_size = options.batch_size;
  const auto& s = options.schema;
  const auto q = [&](std::string_view name) { return quote(dialect, name); };
  quoted_table = q(s.table);
  context.schema = s;
  // (events_table.hpp says why the defaults differ.)
  context.gap_grace = options.gap_grace.value_or(
      dialect == Dialect::postgres ? std::chrono::milliseconds(5) : std::chrono::milliseconds(0));
  context.metrics = options.metrics ? options.metrics->table(s.table) : null_table_metrics();
  context.gap = std::make_shared<GapState>();
  select_sql = "SELECT " + q(s.id_column) + ", " + q(s.type_column) + ", " +
               q(s.foreign_id_column) + ", " + driver.micros_expr(q(s.timestamp_column));
  if (!s.metadata_column.empty()) select_sql += ", " + q(s.metadata_column);
  if (!s.trace_column.empty()) select_sql += ", " + q(s.trace_column);
  select_sql += " FROM " + quoted_table + " WHERE " + q(s.id_column) + " > ? ORDER BY " +
                q(s.id_column) + " LIMIT ?";
}

EventsTableImpl::~EventsTableImpl() = default;

bool EventsTableImpl::cross_listening() const noexcept {
  const auto* cross = cross_ptr_.load(std::memory_order_acquire);
  return cross && cross->listening();
}

std::chrono::milliseconds EventsTableImpl::idle_poll() const noexcept {
  return cross_listening() ? options.notified_poll_interval : options.poll_interval;
}

void EventsTableImpl::notify() noexcept {
  waker->wake();
  if (options.cross_process_notify) {
    try {
      ensure_cross_notifier();
    } catch (...) {
      return;  // no cross-process wake-up: other processes see the commit at their next poll
    }
    if (auto* cross = cross_ptr_.load(std::memory_order_acquire)) cross->poke();
  }
}

void EventsTableImpl::listen_cross_process() {
  ensure_cross_notifier();
  if (auto* cross = cross_ptr_.load(std::memory_order_acquire)) cross->listen();
}

void EventsTableImpl::ensure_cross_notifier() {
  if (!options.cross_process_notify) return;
  std::call_once(cross_once_, [this] {
    // Not the table: its last reference must never end up on the notifier's own thread.
    std::weak_ptr<WakeState> weak = waker;
    cross_ = driver.make_cross_notifier(options.schema, [weak] {
      if (auto waker = weak.lock()) waker->wake();
    });
    cross_ptr_.store(cross_.get(), std::memory_order_release);
  });
}

std::string EventsTableImpl::insert_columns(bool with_timestamp) const {
  const auto& s = options.schema;
  const auto q = [&](std::string_view name) { return quote(dialect, name); };
  std::string columns = q(s.foreign_id_column) + ", " + q(s.type_column);
  if (!s.metadata_column.empty()) columns += ", " + q(s.metadata_column);
  if (!s.trace_column.empty()) columns += ", " + q(s.trace_column);
  if (with_timestamp) columns += ", " + q(s.timestamp_column);
  return columns;
}

void EventsTableImpl::check(const NewEvent& event) const {
  const bool has_metadata = !options.schema.metadata_column.empty();
  const bool has_trace = !options.schema.trace_column.empty();
  if (!event.metadata.empty() && !has_metadata) {
    throw ConfigError("event metadata given, but table '" + options.schema.table +
                      "' has no metadata column (EventsSchema::metadata_column is empty)");
  }
  if (!event.trace.empty() && !has_trace) {
    throw ConfigError("event trace given, but table '" + options.schema.table +
                      "' has no trace column (EventsSchema::trace_column is empty)");
  }
  if (event.metadata.size() > options.max_metadata_bytes) {
    throw ConfigError("event metadata of " + std::to_string(event.metadata.size()) +
                      " bytes exceeds the limit of " + std::to_string(options.max_metadata_bytes) +
                      " bytes for table '" + options.schema.table +
                      "' (EventsTableOptions::max_metadata_bytes); store large payloads elsewhere "
                      "and reference them");
  }
  if (event.trace.size() > options.max_trace_bytes) {
    throw ConfigError("event trace of " + std::to_string(event.trace.size()) +
                      " bytes exceeds the limit of " + std::to_string(options.max_trace_bytes) +
                      " bytes (EventsTableOptions::max_trace_bytes)");
  }
  if (const auto at = invalid_utf8_at(event.foreign_id.str())) {
    throw ConfigError("event foreign id " + quote_bytes(event.foreign_id.str()) +
                      " is not valid UTF-8 (at byte " + std::to_string(*at) + ") for table '" +
                      options.schema.table +
                      "': foreign ids are text on every wire reflex serves (gRPC strings, "
                      "JSON); give a binary id as hex or base64");
  }
  if (is_noop(event.type, event.foreign_id.str())) {
    throw ConfigError(
        "an event needs a foreign id or a non-zero type: type 0 with an empty "
        "foreign id marks reflex's internal no-op rows");
  }
}

void EventsTableImpl::expect_dialect(Dialect expected, std::string_view what) const {
  if (dialect == expected) return;
  throw ConfigError(std::string(what) + " on a " + std::string(to_string(dialect)) +
                    " events table: pass that database's transaction");
}

std::int64_t parse_cursor(std::string_view cursor, std::string_view table) {
  if (cursor.empty()) return 0;
  const auto value = parse_int64(cursor);
  if (!value || *value < 0) {
    throw CursorError("cursor " + quoted(cursor) + " is not an event id of table '" +
                      std::string(table) +
                      "': expected a non-negative decimal id (or \"\" for the beginning)");
  }
  return *value;
}

}  // namespace detail

EventsTable::EventsTable(std::shared_ptr<Database> database, EventsTableOptions options) {
  if (!database) throw ConfigError("EventsTable needs a database (rsql::Database::open)");
  impl_ = std::make_shared<detail::EventsTableImpl>(std::move(database), std::move(options));
}

void EventsTable::check() const {
  const detail::Param params[] = {std::int64_t{0}, std::int64_t{0}};
  detail::with_table_session(impl_->pool, impl_->options.schema.table, "events_ddl", impl_->dialect,
                             [&](detail::Session& session) {
                               session.query(impl_->select_sql, params, [](const detail::Row&) {});
                               return 0;
                             });
}

void EventsTable::notify() const {
  impl_->notify();
}

Notifier EventsTable::notifier() const {
  return impl_->notifier();
}

std::unique_ptr<StreamClient> EventsTable::stream(std::stop_token stop, std::string_view after,
                                                  const StreamOptions& options) const {
  check_stream_options(options);
  std::int64_t position = detail::parse_cursor(after, impl_->options.schema.table);
  impl_->listen_cross_process();
  if (options.from_head) {
    detail::Reader reader(impl_);
    position = reader.head();
  }
  return std::make_unique<detail::SqlStream>(impl_, std::move(stop), position, options);
}

StreamFunc EventsTable::stream_func() const {
  return
      [table = *this](std::stop_token stop, std::string_view after, const StreamOptions& options) {
        return table.stream(std::move(stop), after, options);
      };
}

std::string EventsTable::head() const {
  detail::Reader reader(impl_);
  const auto id = reader.head();
  return id == 0 ? std::string() : std::to_string(id);
}

const EventsTableOptions& EventsTable::options() const noexcept {
  return impl_->options;
}
const std::shared_ptr<Database>& EventsTable::database() const noexcept {
  return impl_->database;
}

}  // namespace reflex::rsql
