#pragma once
// The interface every SQL dialect implements. Shared code (streams, head cache, cursors, errors,
// retention) is written once against it; a dialect supplies a Session (one connection), its SQL
// fragments and its gap policy (how a hole in the ids is resolved).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "reflex/event.hpp"
#include "reflex/metrics.hpp"
#include "reflex/rsql/database.hpp"
#include "reflex/rsql/errors.hpp"
#include "reflex/rsql/schema.hpp"
#include "reflex/uri.hpp"

namespace reflex::rsql::detail {

/// Bytes bound as a BLOB/BYTEA (text params are bound as text).
struct Blob {
  std::string_view bytes;
};
using Param = std::variant<std::nullptr_t, std::int64_t, std::string_view, Blob>;

/// One result row, valid only inside the row callback.
class Row {
 public:
  virtual ~Row() = default;
  [[nodiscard]] virtual bool is_null(int column) const = 0;
  /// The integer; 0 for NULL (readers rely on it to skip a separate NULL check).
  [[nodiscard]] virtual std::int64_t int64(int column) const = 0;
  /// Text or bytes (a BLOB/BYTEA column comes back as its raw bytes); empty for NULL.
  [[nodiscard]] virtual std::string_view text(int column) const = 0;
};
using RowCallback = std::function<void(const Row&)>;

/// One connection. SQL uses `?` placeholders; a dialect rewrites them as it needs and prepares
/// each distinct statement once per session. Errors are DatabaseError with a kind.
///
/// Thread-safety: one thread at a time.
class Session {
 public:
  virtual ~Session() = default;
  virtual void query(std::string_view sql, std::span<const Param> params,
                     const RowCallback& on_row) = 0;
  /// Returns the number of rows affected.
  virtual std::uint64_t execute(std::string_view sql, std::span<const Param> params) = 0;
  /// Several statements separated by ";\n", without parameters (DDL).
  virtual void execute_script(std::string_view statements) = 0;
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
  /// True once the connection failed: the owner discards the session and connects again.
  [[nodiscard]] virtual bool broken() const noexcept = 0;
};

/// What a keyset read found.
struct ReadResult {
  /// Events safe to deliver, in id order (no-op rows hidden).
  std::vector<Event> events;
  /// The position the stream has reached (>= the last event's id: no-op rows count).
  std::int64_t position = 0;
  /// The read came back full: read again at once.
  bool full = false;
  /// A hole in the ids that may still fill holds the stream back: read again soon.
  bool blocked = false;
};

/// Shared state of one events table object (all its streams).
struct GapState {
  /// Every id at or below this is final: committed and visible, or never to appear.
  std::atomic<std::int64_t> settled{0};
  std::mutex mutex;
  /// Dialect-specific probe state, guarded by mutex.
  std::int64_t probe_limit = 0;
  std::int64_t probe_xmax = 0;
  bool probe_pending = false;
  std::chrono::steady_clock::time_point probe_since{};
  /// MariaDB: when each open hole (by the id before it) was first seen; several readers may wait
  /// at different holes.
  struct Sighting {
    std::chrono::steady_clock::time_point since{};
  };
  std::map<std::int64_t, Sighting> sightings;
  /// When the current blocking hole was first seen (for the gauge).
  std::int64_t hole_at = -1;
  std::chrono::steady_clock::time_point hole_since{};
};

/// Everything a reader or gap policy needs to know about its table.
struct TableContext {
  EventsSchema schema;
  std::chrono::milliseconds gap_grace{};
  std::shared_ptr<TableMetrics> metrics;
  std::shared_ptr<GapState> gap;
};

/// What to do about a hole (prev, next) in the ids above the settled horizon.
enum class HoleDecision {
  /// The hole is final: deliver past it.
  pass,
  /// The horizon moved or the hole was filled: read again from the hole.
  reread,
  /// The hole may still fill: stop before it.
  block,
};

/// A hole in the ids a read returned: no row between `prev` and `next()`.
struct Hole {
  std::int64_t prev = 0;
  /// The ids the read returned from the row after the hole on (`ids[0]` is `next()`), and those
  /// rows (parallel; their timestamps say when each was written).
  std::span<const std::int64_t> ids;
  std::span<const Event> rows;
  [[nodiscard]] std::int64_t next() const noexcept { return ids.front(); }
};

/// What a gap policy decided, and with `pass`, how far: the read is complete up to `through` (an
/// id it returned, at least `next()`), so holes below it need no decision of their own.
struct HoleVerdict {
  HoleDecision decision = HoleDecision::block;
  std::int64_t through = 0;
};

/// Decides about holes; one per reader (uses the reader's session).
class GapPolicy {
 public:
  virtual ~GapPolicy() = default;
  virtual HoleVerdict on_hole(Session& session, const Hole& hole) = 0;
};

/// Cross-process wake-ups (PostgreSQL LISTEN/NOTIFY): poke() asks for a NOTIFY to be sent
/// (coalesced, from its own session); once listen() was called, notifications from other
/// processes call on_wake. A producer-only process never listens.
class CrossNotifier {
 public:
  virtual ~CrossNotifier() = default;
  virtual void poke() noexcept = 0;
  /// Starts receiving notifications (idempotent).
  virtual void listen() = 0;
  /// True while the LISTEN is established (polling may then be slow).
  [[nodiscard]] virtual bool listening() const noexcept = 0;
};

/// Opens sessions and knows the dialect's SQL.
class Driver {
 public:
  virtual ~Driver() = default;
  [[nodiscard]] virtual Dialect dialect() const noexcept = 0;
  [[nodiscard]] virtual const std::string& redacted_dsn() const noexcept = 0;
  /// Connects (Unavailable when the server is unreachable; ConfigError for bad credentials or
  /// an unknown database).
  [[nodiscard]] virtual std::unique_ptr<Session> connect() = 0;

  /// SQL expression giving the timestamp column as microseconds since the epoch (BIGINT).
  [[nodiscard]] virtual std::string micros_expr(std::string_view column) const = 0;
  /// SQL expression for the current time in the type of timestamp columns.
  [[nodiscard]] virtual std::string now_expr() const = 0;
  /// SQL expression turning one `?` parameter (microseconds since the epoch, BIGINT) into the
  /// type of timestamp columns (for comparisons that can use an index).
  [[nodiscard]] virtual std::string micros_param_expr() const = 0;
  /// The gap policy of a reader of this table.
  [[nodiscard]] virtual std::unique_ptr<GapPolicy> make_gap_policy(const TableContext& table) = 0;
  /// A cross-process notifier for the table, or nullptr when the dialect has none.
  [[nodiscard]] virtual std::unique_ptr<CrossNotifier> make_cross_notifier(
      const EventsSchema& schema, std::function<void()> on_wake) {
    (void)schema;
    (void)on_wake;
    return nullptr;
  }
};

/// Opens the driver of a parsed DSN's scheme (each dialect registers its own).
std::shared_ptr<Driver> make_sqlite_driver(const Uri& uri, const DatabaseOptions& options);
std::shared_ptr<Driver> make_postgres_driver(const Uri& uri, const DatabaseOptions& options);
std::shared_ptr<Driver> make_mysql_driver(const Uri& uri, const DatabaseOptions& options);

/// Runs `fn(session)` with the session, reconnecting once when the session is broken.
class SessionPool final {
 public:
  explicit SessionPool(std::shared_ptr<Driver> driver) : driver_(std::move(driver)) {}
  /// Borrows a session (connecting when none is idle); returned on destruction unless broken.
  class Lease {
   public:
    Lease(SessionPool* pool, std::unique_ptr<Session> session, bool reused)
        : pool_(pool), session_(std::move(session)), reused_(reused) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease() {
      if (pool_ && session_) pool_->give_back(std::move(session_));
    }
    Session& operator*() const { return *session_; }
    Session* operator->() const { return session_.get(); }
    /// The session was idle in the pool (its server may have restarted meanwhile).
    [[nodiscard]] bool reused() const noexcept { return reused_; }

   private:
    SessionPool* pool_;
    std::unique_ptr<Session> session_;
    bool reused_;
  };
  [[nodiscard]] Lease lease();
  [[nodiscard]] Driver& driver() const noexcept { return *driver_; }

 private:
  void give_back(std::unique_ptr<Session> session);
  std::shared_ptr<Driver> driver_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Session>> idle_;
};

// --- shared helpers ---------------------------------------------------------------------------

/// Parses an events-table cursor ("" = 0); CursorError naming the table otherwise.
std::int64_t parse_cursor(std::string_view cursor, std::string_view table);

/// Rethrows a DatabaseError of kind undefined_table/undefined_column as a SchemaError that names
/// the table and the DDL helper; other errors unchanged. Call inside a catch block.
[[noreturn]] void rethrow_with_schema_hint(std::string_view table, std::string_view ddl_helper,
                                           Dialect dialect);

/// rethrow_with_schema_hint for an insert into an events table. On MariaDB/MySQL a duplicate
/// primary key there means a reader's hole probe took the id this insert drew before its row was
/// written (see MySqlPolicy): nothing of the insert was written, and the error becomes a retryable
/// one that says so. Call inside a catch block.
[[noreturn]] void rethrow_insert_error(std::string_view table, Dialect dialect);
/// Whether the insert error being handled leaves a transaction of reflex's own worth running
/// again: a deadlock or serialization failure, or an id taken by a hole probe. Call inside a catch
/// block.
[[nodiscard]] bool insert_may_run_again(Dialect dialect);

/// Runs `fn(session)` on a pooled session of a table's pool; a missing table or column becomes a
/// SchemaError naming `table` and `ddl_helper`.
/// A session that was idle in the pool and turns out broken (the server restarted) is replaced
/// once by a fresh connection, so callers see only failures of the server as it is now; `fn` must
/// therefore be safe to run again after a connection failure (reflex's table writes are).
template <class Fn>
auto with_table_session(SessionPool& pool, std::string_view table, std::string_view ddl_helper,
                        Dialect dialect, Fn&& fn) {
  try {
    for (int attempt = 0;; ++attempt) {
      auto session = pool.lease();
      try {
        return fn(*session);
      } catch (const DatabaseError& e) {
        if (attempt > 0 || !session.reused() || e.kind() != DatabaseErrorKind::connection) throw;
      }
    }
  } catch (...) {
    rethrow_with_schema_hint(table, ddl_helper, dialect);
  }
}

/// Microseconds since the epoch <-> time_point.
std::chrono::system_clock::time_point from_micros(std::int64_t micros);
std::int64_t to_micros(std::chrono::system_clock::time_point time);

/// Checks an event for insertion (metadata allowed and small enough, not a no-op look-alike).
struct InsertLimits {
  std::string_view table;
  bool has_metadata = true;
  bool has_trace = true;
  std::size_t max_metadata_bytes = 0;
  std::size_t max_trace_bytes = 0;
};
void check_new_event(const InsertLimits& limits, const std::string& foreign_id, int type,
                     const std::string& metadata, const std::string& trace);

/// True for the rows a dialect writes to fill a hole (type 0, empty foreign id); never delivered.
inline bool is_noop(int type, std::string_view foreign_id) noexcept {
  return type == 0 && foreign_id.empty();
}

}  // namespace reflex::rsql::detail
