#pragma once
// A MariaDB/MySQL connection of reflex's own (mysql-connector-c++ 1.1, its legacy JDBC-like API)
// and how the connector's errors become rsql's.

#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "driver.hpp"

namespace sql {
class Connection;
class PreparedStatement;
namespace mysql {
class MySQL_Connection;
}  // namespace mysql
}  // namespace sql

namespace reflex::rsql::detail {

/// Maps the exception being handled (a connector or reflex one) to a one-line DatabaseError with
/// the server's error code; sets `*broken` for connection failures when given. Call inside a
/// catch block.
[[noreturn]] void rethrow_mysql(bool* broken);

/// `conn` as the MySQL connection it must be for `what` (a call that uses the connector's own
/// handle); ConfigError when it is another kind of connection.
[[nodiscard]] sql::mysql::MySQL_Connection& mysql_connection(sql::Connection& conn,
                                                             std::string_view what);

/// The caller's connection for a write that must commit with the caller's change (`what` names
/// the call, `item` what it writes): ConfigError when autocommit is on or it is no MySQL
/// connection. Reads the autocommit flag from the last reply's server status: no round trip.
[[nodiscard]] sql::mysql::MySQL_Connection& in_callers_transaction(sql::Connection& conn,
                                                                   std::string_view what,
                                                                   std::string_view item);

/// Where and as whom to connect, from a DSN.
struct ConnectInfo {
  std::string host;  // tcp://HOST:PORT
  std::string user;
  std::string password;
  std::string schema;
  int timeout_seconds = 5;
  std::string redacted;
};

/// The connection settings of a `mysql://` or `mariadb://` DSN (ConfigError when malformed).
[[nodiscard]] ConnectInfo connect_info(const Uri& uri, const DatabaseOptions& options);

/// Connects. `own`: a session of reflex's (UTC, short lock waits, so a reader probing a hole
/// never hangs on a long transaction); otherwise a connection for the caller, left with the
/// server's settings. ConfigError when refused, Unavailable when unreachable.
[[nodiscard]] std::unique_ptr<sql::Connection> open_mysql_connection(const ConnectInfo& info,
                                                                     bool own);

/// Binds `params` to `stmt` (bytes through streams kept in `blobs` until it ran).
void bind_params(sql::PreparedStatement& stmt, std::span<const Param> params,
                 std::vector<std::unique_ptr<std::istringstream>>& blobs);

/// rsql::Sql on a caller's connection with autocommit off (the public sql_on); ConfigError when
/// autocommit is on.
[[nodiscard]] std::unique_ptr<Sql> callers_mysql_sql(sql::Connection& conn);

/// Thread-safety: one thread at a time.
class MySqlSession final : public Session {
 public:
  explicit MySqlSession(const ConnectInfo& info);
  ~MySqlSession() override;

  void query(std::string_view sql, std::span<const Param> params,
             const RowCallback& on_row) override;
  std::uint64_t execute(std::string_view sql, std::span<const Param> params) override;
  void execute_script(std::string_view statements) override;
  void begin() override;
  void commit() override;
  void rollback() noexcept override;
  bool broken() const noexcept override;

  /// The connection (autocommit off between begin() and commit()/rollback()), for the producer
  /// API.
  [[nodiscard]] sql::Connection& connection() noexcept { return *conn_; }

 private:
  sql::PreparedStatement& bind(std::string_view sql, std::span<const Param> params);

  std::unique_ptr<sql::Connection> conn_;
  std::unordered_map<std::string, std::unique_ptr<sql::PreparedStatement>> statements_;
  std::vector<std::unique_ptr<std::istringstream>> blobs_;
  bool broken_ = false;
};

}  // namespace reflex::rsql::detail
