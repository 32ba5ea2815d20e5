#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/event.hpp"
#include "reflex/metrics.hpp"
#include "reflex/rsql/database.hpp"
#include "reflex/rsql/export.hpp"
#include "reflex/rsql/schema.hpp"
#include "reflex/stream.hpp"

namespace reflex::rsql {

class CursorsTable;
namespace detail {
struct Access;
class EventsTableImpl;
}  // namespace detail

/// An event's foreign id: the id of the entity it is about, given as a string or an integer.
class REFLEX_RSQL_EXPORT ForeignId final {
 public:
  ForeignId(std::string value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  ForeignId(std::string_view value) : value_(value) {}        // NOLINT(google-explicit-constructor)
  ForeignId(const char* value) : value_(value) {}             // NOLINT(google-explicit-constructor)
  template <std::integral T>
  ForeignId(T value) : value_(std::to_string(value)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] const std::string& str() const noexcept { return value_; }

 private:
  std::string value_;
};

/// An event to insert. The id and timestamp are assigned by the database.
struct NewEvent {
  ForeignId foreign_id{""};
  int type = 0;
  /// Opaque bytes; needs a metadata column.
  std::string metadata{};
  /// W3C trace context (e.g. a traceparent); needs a trace column.
  std::string trace{};
};

/// Wakes the table's streams after the producer's transaction committed. Call it after commit
/// (calling it after a rollback is harmless; not calling it only delays readers until their next
/// poll). Cheap and non-blocking: the cross-process notification (PostgreSQL NOTIFY) is sent from
/// a separate session, coalesced with other commits.
///
/// Thread-safety: may be called from any thread, any number of times. Lifetime: does not keep the
/// table alive; after the table is gone it does nothing.
class [[nodiscard]] Notifier final {
 public:
  class Target {
   public:
    virtual ~Target() = default;
    virtual void notify() noexcept = 0;
  };
  Notifier() = default;
  explicit Notifier(std::weak_ptr<Target> target) : target_(std::move(target)) {}
  void operator()() const noexcept { notify(); }
  void notify() const noexcept {
    if (auto target = target_.lock()) target->notify();
  }

 private:
  std::weak_ptr<Target> target_;
};

/// How an EventsTable reads and writes.
struct EventsTableOptions {
  EventsSchema schema{};
  /// Rows per keyset read.
  std::size_t batch_size = 1000;
  /// Events kept in memory for streams at the head (shared by every stream of the table).
  std::size_t cache_size = 10000;
  /// Largest metadata accepted by insert (bytes); bigger is a ConfigError.
  std::size_t max_metadata_bytes = 1 << 20;
  /// Longest accepted trace (bytes).
  std::size_t max_trace_bytes = 512;
  /// Poll interval of an idle stream when no cross-process notification is available (other
  /// processes' commits are seen after at most this long).
  std::chrono::milliseconds poll_interval{std::chrono::milliseconds(100)};
  /// Poll interval of an idle stream when cross-process notification is on (PostgreSQL
  /// LISTEN/NOTIFY): a safety net only.
  std::chrono::milliseconds notified_poll_interval{std::chrono::seconds(1)};
  /// PostgreSQL: LISTEN for, and send, cross-process wake-ups (channel "reflex_<table>").
  bool cross_process_notify = true;
  /// How long a stream waits at a fresh hole in the ids before probing it: a hole that a commit
  /// fills meanwhile (a transaction that drew the id before a later one committed) costs only a
  /// read again, when that commit wakes the stream. A probe is exact either way, so this only
  /// saves probes of holes that are about to fill, and delays passing a rolled-back id by as
  /// much. Unset: the dialect's default. PostgreSQL: 5 ms (a probe there is four statements, one
  /// of which takes a transaction id, and every commit wakes the stream in time). MariaDB/MySQL:
  /// 0, at once (a probe waits for the writer's commit itself, and saves only a no-op row; there
  /// a hole whose next row is older than the grace is probed at once). SQLite has no holes to
  /// wait at.
  std::optional<std::chrono::milliseconds> gap_grace{};
  /// Where to report polls, cache hits, gaps and blocking (a table label is added).
  std::shared_ptr<MetricsObserver> metrics{};
};

/// What retention deletes.
struct RetentionOptions {
  /// Delete events whose timestamp is older than this.
  std::chrono::seconds older_than{std::chrono::hours(24 * 7)};
  /// Rows per DELETE statement (each its own short transaction).
  std::size_t batch_size = 1000;
  /// When set with `consumers`: never delete an event some listed consumer has not consumed yet
  /// (an unknown consumer counts as at the beginning).
  std::shared_ptr<CursorsTable> cursors{};
  std::vector<std::string> consumers{};
};

/// An outbox table of events: producers insert inside their own transactions; consumers stream it
/// after a cursor (the event id), gap-safe: a committed event is never skipped, even when it
/// commits after later ids became visible (docs/rsql.md, "Never skipping a committed event", has
/// the design per dialect).
///
/// Thread-safety: all members may be called from several threads at once; an insert uses only
/// the caller's transaction. Lifetime: a handle; copies share the same head cache and wake-ups.
/// Streams and notifiers keep what they need alive.
class REFLEX_RSQL_EXPORT EventsTable final {
 public:
  /// Validates the schema names (ConfigError) but does not connect; check() does.
  EventsTable(std::shared_ptr<Database> database, EventsTableOptions options = {});

  /// Connects and checks that the table and its columns exist: SchemaError naming the table and
  /// the DDL helper otherwise; Unavailable when the server cannot be reached.
  void check() const;

  /// Inserts one event inside the caller's open transaction and returns the notifier to call
  /// after commit. Adds exactly one statement to the transaction. `transaction` is the dialect's
  /// own, and the dialect's header declares the call (a dialect this build lacks has no header,
  /// so the call does not compile):
  /// - `pqxx::transaction_base&` — `#include <reflex/rsql/postgres.hpp>`,
  /// - `sql::Connection&` with autocommit off — `#include <reflex/rsql/mysql.hpp>`,
  /// - `sqlite3*` inside `BEGIN … COMMIT` — `#include <reflex/rsql/sqlite.hpp>`.
  template <class Transaction>
  Notifier insert(Transaction&& transaction, const NewEvent& event) const;
  /// Shorthand: insert(transaction, {foreign_id, type_value(type), metadata}).
  template <class Transaction, EventType T>
  Notifier insert(Transaction&& transaction, ForeignId foreign_id, T type,
                  std::string metadata = {}) const;
  /// Inserts many events in one statement (PostgreSQL: COPY from 32 events on), in order.
  template <class Transaction>
  Notifier insert_batch(Transaction&& transaction, std::span<const NewEvent> events) const;
  /// PostgreSQL (`<reflex/rsql/postgres.hpp>`): runs `statement`, the caller's own INSERT,
  /// UPDATE or DELETE with parameters $1, $2, … bound to `params` (text, as libpq takes them;
  /// nullopt is NULL), and inserts `event` in the same SQL statement (`WITH change AS
  /// (statement) INSERT INTO events …`): the change and its event cost one round trip instead of
  /// two. The event is inserted exactly once, whatever number of rows the statement changed.
  /// Inside the caller's open transaction, like insert(); call the returned notifier after
  /// commit. A statement that is not an INSERT, UPDATE, DELETE or WITH, or that uses a parameter
  /// beyond `params`, is a ConfigError and nothing runs. Each distinct statement text is
  /// prepared once per connection: pass values as parameters, never spliced into the text.
  template <class Transaction>
  Notifier insert_with(Transaction&& transaction, std::string_view statement,
                       const std::vector<std::optional<std::string>>& params,
                       const NewEvent& event) const;

  /// Inserts events in one transaction of reflex's own and commits, then notifies: for producers
  /// with no transaction of their own to join (scripts, `reflexctl publish`). All or nothing.
  void publish(std::span<const NewEvent> events) const;

  /// Wakes this table's streams in this process now (what a Notifier does).
  void notify() const;
  /// The notifier of events inserted by statements of the caller's own (through sql.hpp, as
  /// reflex::rstate does), to call after their commit.
  [[nodiscard]] Notifier notifier() const;

  /// Opens a stream after `after` ("" = from the first event). Throws CursorError when `after` is
  /// not an event id. Lag is honoured (an event is delivered once it is at least `lag` old).
  [[nodiscard]] std::unique_ptr<StreamClient> stream(std::stop_token stop, std::string_view after,
                                                     const StreamOptions& options = {}) const;
  /// stream() as a StreamFunc (keeps the table alive).
  [[nodiscard]] StreamFunc stream_func() const;

  /// The id of the newest event ("" when the table is empty).
  [[nodiscard]] std::string head() const;

  /// Deletes events older than options.older_than in batches; returns how many. Safe while
  /// writers and readers run.
  std::uint64_t delete_old_events(std::stop_token stop, const RetentionOptions& options) const;

  [[nodiscard]] const EventsTableOptions& options() const noexcept;
  [[nodiscard]] const std::shared_ptr<Database>& database() const noexcept;

 private:
  friend struct detail::Access;  // the dialects' insert code reaches the table through it
  std::shared_ptr<detail::EventsTableImpl> impl_;
};

/// A transaction type some included dialect header can insert events with: the dialect headers
/// declare `insert_events(const EventsTable&, Transaction, std::span<const NewEvent>)`, found by
/// argument-dependent lookup.
template <class Transaction>
concept OutboxTransaction = requires(const EventsTable& table, Transaction&& transaction,
                                     std::span<const NewEvent> events) {
  {
    insert_events(table, std::forward<Transaction>(transaction), events)
    } -> std::same_as<Notifier>;
};

/// A transaction type that can carry an event on the caller's own statement: PostgreSQL's, with
/// `<reflex/rsql/postgres.hpp>` included.
template <class Transaction>
concept StatementTransaction = requires(const EventsTable& table, Transaction&& transaction,
                                        const std::vector<std::optional<std::string>>& params,
                                        const NewEvent& event) {
  {
    insert_events_with(table, std::forward<Transaction>(transaction), std::string_view(), params,
                       event)
    } -> std::same_as<Notifier>;
};

template <class Transaction>
Notifier EventsTable::insert(Transaction&& transaction, const NewEvent& event) const {
  static_assert(OutboxTransaction<Transaction>,
                "no insert for this transaction type: include "
                "<reflex/rsql/postgres.hpp>, <reflex/rsql/mysql.hpp> or <reflex/rsql/sqlite.hpp>");
  return insert_events(*this, std::forward<Transaction>(transaction),
                       std::span<const NewEvent>(&event, 1));
}

template <class Transaction, EventType T>
Notifier EventsTable::insert(Transaction&& transaction, ForeignId foreign_id, T type,
                             std::string metadata) const {
  return insert(std::forward<Transaction>(transaction),
                NewEvent{.foreign_id = std::move(foreign_id),
                         .type = type_value(type),
                         .metadata = std::move(metadata),
                         .trace = {}});
}

template <class Transaction>
Notifier EventsTable::insert_batch(Transaction&& transaction,
                                   std::span<const NewEvent> events) const {
  static_assert(OutboxTransaction<Transaction>,
                "no insert for this transaction type: include "
                "<reflex/rsql/postgres.hpp>, <reflex/rsql/mysql.hpp> or <reflex/rsql/sqlite.hpp>");
  return insert_events(*this, std::forward<Transaction>(transaction), events);
}

template <class Transaction>
Notifier EventsTable::insert_with(Transaction&& transaction, std::string_view statement,
                                  const std::vector<std::optional<std::string>>& params,
                                  const NewEvent& event) const {
  static_assert(StatementTransaction<Transaction>,
                "insert_with() rides the event on the caller's statement on PostgreSQL only: "
                "pass a pqxx::transaction_base and include <reflex/rsql/postgres.hpp>");
  return insert_events_with(*this, std::forward<Transaction>(transaction), statement, params,
                            event);
}

}  // namespace reflex::rsql
