#pragma once

/// The MariaDB/MySQL producer API of reflex::rsql: inserting events in the caller's
/// mysql-connector-c++ transaction, and connections for it. Installed only when reflex is built
/// with MySQL (REFLEX_WITH_MYSQL); the caller links mysqlcppconn itself, since reflex keeps it
/// private.

#include <memory>
#include <span>
#include <string_view>

#include "reflex/rsql/config.hpp"
#include "reflex/rsql/database.hpp"
#include "reflex/rsql/events_table.hpp"
#include "reflex/rsql/export.hpp"
#include "reflex/rsql/inbox.hpp"
#include "reflex/rsql/sql.hpp"
#include "reflex/rsql/transactional_cursors.hpp"

#if !REFLEX_RSQL_HAS_MYSQL
#error "this reflex was built without MariaDB/MySQL: rebuild it with -DREFLEX_WITH_MYSQL=ON"
#endif

namespace sql {
class Connection;
}  // namespace sql

namespace reflex::rsql {

/// Inserts `events` on the caller's connection, which must have autocommit off (the caller
/// commits), in one statement, in order; returns the notifier to call after commit. What
/// EventsTable::insert and insert_batch call for a MySQL connection. An insert whose id a stream
/// reader took meanwhile fails with a retryable DatabaseError: roll back and run the transaction
/// again (docs/rsql.md, gap safety on MariaDB).
REFLEX_RSQL_EXPORT Notifier insert_events(const EventsTable& table, sql::Connection& transaction,
                                          std::span<const NewEvent> events);

/// Inserts events one at a time on one caller's connection through a server-side prepared
/// statement, prepared once when the inserter is made. insert_events sends each INSERT with
/// literal values (a prepared statement made for one insert would cost a round trip more), which
/// the server parses every time: about 25 µs of its CPU a transaction here, what separates it
/// from a hand-written prepared INSERT (P5). For a producer that runs many transactions on one
/// connection; a batch still goes through insert_events (one statement for the batch).
///
/// Thread-safety: one thread at a time, like the connection. Lifetime: borrows `table` and
/// `connection`; destroy the inserter before the connection (as a Connector/C++ prepared
/// statement of its own).
class REFLEX_RSQL_EXPORT MySqlInserter final {
 public:
  /// Prepares the INSERT on `connection`. ConfigError for a table of another dialect or a
  /// connection that is not MySQL's; SchemaError when the events table is missing
  /// (Database::create_events_table).
  MySqlInserter(const EventsTable& table, sql::Connection& connection);
  ~MySqlInserter();
  MySqlInserter(const MySqlInserter&) = delete;
  MySqlInserter& operator=(const MySqlInserter&) = delete;

  /// Inserts `event` in the connection's open transaction (autocommit off, ConfigError when on)
  /// and returns the notifier to call after commit. Errors and gap safety as insert_events: an
  /// insert whose id a stream reader took meanwhile fails with a retryable DatabaseError.
  [[nodiscard]] Notifier insert(const NewEvent& event);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// A MySQL Connector/C++ connection for your own transactions, from the same kind of DSN as
/// Database::open (`mysql://` or `mariadb://USER[:PASSWORD]@HOST[:PORT]/DB`): database selected,
/// utf8mb4, autocommit on (call `setAutoCommit(false)` for a transaction that inserts events).
/// Throws ConfigError for another scheme, a malformed DSN or a refused login, and Unavailable when
/// the server cannot be reached.
[[nodiscard]] REFLEX_RSQL_EXPORT std::unique_ptr<sql::Connection> connect_mysql(
    std::string_view dsn, const DatabaseOptions& options = {});

/// Transactional cursors whose consumers apply their effects on a connection (autocommit off) of
/// reflex's own (see transactional_cursors.hpp): the effects and the cursor commit together. A lock
/// wait of a commit gives up after a second (a retryable error): reflex's sessions wait briefly.
template <>
[[nodiscard]] REFLEX_RSQL_EXPORT std::shared_ptr<rpatterns::TransactionalCursors<sql::Connection&>>
transactional_cursors<sql::Connection&>(std::shared_ptr<Database> database,
                                        TransactionalCursorsOptions options);

/// Records (source, event_id) in `inbox` inside the caller's open transaction, so that the record
/// commits or rolls back with the caller's effects; true when it is new (false: handled before,
/// skip the effects). One insert-if-absent statement (INSERT IGNORE) on the caller's connection,
/// which must have autocommit off. Throws ConfigError for another dialect's inbox or an open
/// transaction missing, SchemaError when the table is missing (inbox_ddl,
/// Database::create_inbox_table).
[[nodiscard]] REFLEX_RSQL_EXPORT bool record(const Inbox& inbox, sql::Connection& transaction,
                                             std::string_view source, std::string_view event_id);

/// Statements (sql.hpp) on the caller's connection inside its transaction (autocommit off), for
/// modules that write their own tables next to the events (reflex::rstate); each text is prepared
/// once for the life of the returned object, which borrows `transaction` and must not outlive it.
/// ConfigError when `database` is not MariaDB/MySQL or autocommit is on.
[[nodiscard]] REFLEX_RSQL_EXPORT std::unique_ptr<Sql> sql_on(const Database& database,
                                                             sql::Connection& transaction);

}  // namespace reflex::rsql
