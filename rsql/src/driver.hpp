#pragma once
// The interface every SQL dialect implements. Shared code (streams, head cache, cursors, errors,
// retention) is written once against it; a dialect (postgres/, mysql/, sqlite/) supplies a
// Session (one connection), its SQL fragments, its gap policy (gap_policy.hpp) and, where it has
// one, a cross-process wake-up.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "gap_policy.hpp"
#include "reflex/rsql/database.hpp"
#include "reflex/rsql/events_table.hpp"
#include "reflex/rsql/schema.hpp"
#include "reflex/rsql/sql.hpp"
#include "reflex/uri.hpp"

namespace reflex::rsql::detail {

/// The public statement interface (reflex/rsql/sql.hpp) under the names the dialects use.
using Blob = SqlBytes;
using Param = SqlParam;
using Row = SqlRow;
using RowCallback = SqlRowCallback;

/// One connection. SQL uses `?` placeholders; a dialect rewrites them as it needs and prepares
/// each distinct statement once per session. Errors are DatabaseError with a kind, one line.
///
/// Thread-safety: one thread at a time.
class Session : public Sql {
 public:
  /// Several statements separated by ";\n", without parameters (DDL).
  virtual void execute_script(std::string_view statements) = 0;
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
  /// True once the connection failed: the owner discards the session and connects again.
  [[nodiscard]] virtual bool broken() const noexcept = 0;
};

/// Cross-process wake-ups (PostgreSQL LISTEN/NOTIFY): poke() asks for a NOTIFY to be sent
/// (coalesced, from its own session); once listen() was called, notifications from other
/// processes call on_wake. A producer-only process never listens.
///
/// Thread-safety: every member may be called from any thread.
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
///
/// Thread-safety: every member may be called from any thread.
class Driver {
 public:
  virtual ~Driver() = default;
  [[nodiscard]] virtual Dialect dialect() const noexcept = 0;
  [[nodiscard]] virtual const std::string& redacted_dsn() const noexcept = 0;
  /// Connects (Unavailable when the server is unreachable; ConfigError for bad credentials or
  /// an unknown database).
  [[nodiscard]] virtual std::unique_ptr<Session> connect() = 0;
  /// False when what is set on a connection may not outlive a transaction (PostgreSQL behind a
  /// transaction pooler): statements on a caller's transaction are then not prepared by name.
  [[nodiscard]] virtual bool keeps_session_state() const noexcept { return true; }

  /// SQL expression giving the timestamp column as microseconds since the epoch (BIGINT).
  [[nodiscard]] virtual std::string micros_expr(std::string_view column) const = 0;
  /// SQL expression for the current time in the type of timestamp columns.
  [[nodiscard]] virtual std::string now_expr() const = 0;
  /// SQL expression turning one `?` parameter (microseconds since the epoch, BIGINT) into the
  /// type of timestamp columns (for comparisons that can use an index).
  [[nodiscard]] virtual std::string micros_param_expr() const = 0;
  /// Inserts `events` into `table` in the open transaction of `session` (one of this driver's),
  /// the dialect's fastest way: what the producer API does on a caller's transaction
  /// (EventsTable::publish uses it on reflex's own).
  virtual void insert_events(Session& session, const EventsTable& table,
                             std::span<const NewEvent> events) = 0;
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

/// The driver of a parsed DSN of each dialect (defined by the dialect's folder, built only when
/// the dialect is).
std::shared_ptr<Driver> make_sqlite_driver(const Uri& uri, const DatabaseOptions& options);
std::shared_ptr<Driver> make_postgres_driver(const Uri& uri, const DatabaseOptions& options);
std::shared_ptr<Driver> make_mysql_driver(const Uri& uri, const DatabaseOptions& options);

}  // namespace reflex::rsql::detail
