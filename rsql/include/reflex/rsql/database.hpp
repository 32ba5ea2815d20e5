#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "reflex/rsql/export.hpp"
#include "reflex/rsql/schema.hpp"
#include "reflex/rsql/sql.hpp"

namespace reflex::rsql {

namespace detail {
class Driver;
class SessionPool;
struct Access;
}  // namespace detail

/// PostgreSQL only: what stands between reflex and the server.
enum class PoolMode {
  /// reflex's connections are the server's own sessions (the default). A connection found to
  /// come through a pooler (its backend pid is not the server's, as with PgBouncer) is refused
  /// with a ConfigError that names this option.
  direct,
  /// A pooler that gives each client one server session for as long as it is connected
  /// (PgBouncer's `pool_mode = session`): everything works as on a direct connection.
  session,
  /// A pooler that lends a server session per transaction (PgBouncer's `pool_mode =
  /// transaction`): nothing set on a session survives a commit. reflex then prepares no named
  /// statements (each statement is parsed and planned where it runs) and does not LISTEN: streams
  /// learn of other processes' commits by polling with their backoff (`poll_interval`), while a
  /// producer's NOTIFY still wakes listeners connected directly. Its own commits still wake the
  /// streams of its process at once.
  transaction,
};

/// How reflex connects to a database.
struct DatabaseOptions {
  /// Gives up connecting after this long (an unreachable server is an Unavailable error).
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  /// SQLite only: how long a statement waits for another connection's write lock.
  std::chrono::milliseconds busy_timeout{std::chrono::seconds(5)};
  /// SQLite only: create the database file when it does not exist. Off, a missing file is a
  /// ConfigError naming it: what tools that only read want (a mistyped path must not leave an
  /// empty database behind).
  bool create_missing = true;
  /// PostgreSQL only: whether a pooler stands in front of the server. The DSN parameter
  /// `?pool_mode=direct|session|transaction` sets it too (and wins), so tools that take a DSN
  /// reach a server through PgBouncer.
  PoolMode pool_mode = PoolMode::direct;
  /// PostgreSQL only: the DSN names a hot standby (a streaming replica), and this is the DSN of
  /// its primary. Streams then read their events on the standby and decide holes in the ids on
  /// one small connection of the table's own to the primary, which needs rights to read the
  /// events table's sequence and pg_locks and to take a transaction id (a role that may connect
  /// and read is enough). A stream on a standby without it fails with a ConfigError saying to set
  /// it (reflexctl: `--primary DSN`). The standby must replay this primary's WAL (one standby per
  /// DSN, not a pool of several). docs/rsql.md, "Reading from a replica", has the rule and costs.
  std::string primary_dsn{};
};

/// A database reflex reads and writes, named by a DSN:
/// - `postgresql://USER[:PASSWORD]@HOST[:PORT]/DB` (also `postgres://`; query parameters are
///   passed to libpq, e.g. `?sslmode=require`, except reflex's own `pool_mode`, see PoolMode),
/// - `mysql://USER[:PASSWORD]@HOST[:PORT]/DB` (also `mariadb://`),
/// - `sqlite:///ABSOLUTE/PATH` (the file is created when missing, unless told not to).
/// A dialect is available when reflex was built with it (see `<reflex/rsql/config.hpp>`); its
/// producer API, which takes the driver's own transaction type, is in `<reflex/rsql/postgres.hpp>`,
/// `<reflex/rsql/mysql.hpp>` or `<reflex/rsql/sqlite.hpp>`.
/// reflex opens its own connections from it (stream readers, cursor and errors tables, the
/// PostgreSQL notifier); producers insert through their own transactions.
///
/// Thread-safety: all members are safe to call from several threads.
/// Lifetime: shared by the tables made from it (they keep it alive).
class REFLEX_RSQL_EXPORT Database final {
 public:
  /// Parses the DSN and checks that the dialect is built in. Does not connect: an unreachable
  /// server surfaces when a table is used. Throws ConfigError for a malformed DSN, an unknown
  /// scheme or a dialect this build lacks.
  [[nodiscard]] static std::shared_ptr<Database> open(std::string_view dsn,
                                                      const DatabaseOptions& options = {});

  [[nodiscard]] Dialect dialect() const noexcept;
  /// The DSN with its password masked (for logs and errors).
  [[nodiscard]] const std::string& redacted_dsn() const noexcept;

  /// Connects once and runs a trivial query. Throws Unavailable (retryable) when the server cannot
  /// be reached, ConfigError when it refuses the credentials or the database does not exist.
  void ping() const;

  /// Runs SQL statements separated by ";\n" (the schema helpers' output) on a fresh connection.
  void execute(std::string_view statements) const;

  /// Runs `work` in one transaction on one of the database's own pooled connections and commits
  /// it; rolls back and rethrows when `work` throws (or the commit fails). The connections are
  /// kept between calls (up to 16 idle), so a call costs the transaction's round trips, not a
  /// connect; an idle connection found broken at the begin (the server restarted) is replaced
  /// once. Nothing is run again after the transaction began: on a retryable DatabaseError
  /// (deadlock, serialization failure) the caller may call again, while a connection lost at the
  /// commit leaves its outcome unknown (kind connection). What modules built on rsql write their
  /// tables with, next to their events (sql.hpp). May be called from several threads at once.
  void transact(const std::function<void(Sql&)>& work) const;

  /// Creates the tables reflex uses when they are missing (the DDL of schema.hpp).
  void create_events_table(const EventsSchema& schema = {}) const;
  void create_cursors_table(const CursorsSchema& schema = {}) const;
  void create_errors_table(const ErrorsSchema& schema = {}) const;
  void create_inbox_table(const InboxSchema& schema = {}) const;
  void create_shards_tables(const ShardsSchema& schema = {}) const;

  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

 private:
  friend struct detail::Access;  // the dialects and tables of rsql reach the driver through it
  explicit Database(std::shared_ptr<detail::Driver> driver);
  std::shared_ptr<detail::Driver> driver_;
  std::unique_ptr<detail::SessionPool> pool_;  // transact()'s connections
};

}  // namespace reflex::rsql
