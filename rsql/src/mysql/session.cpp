#include "mysql/session.hpp"

#include <cppconn/driver.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>

#include <algorithm>
#include <mutex>

#include "error_mapping.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/errors.hpp"

namespace reflex::rsql::detail {

sql::mysql::MySQL_Connection& in_callers_transaction(sql::Connection& conn, std::string_view what,
                                                     std::string_view item) {
  if (conn.getAutoCommit()) {
    throw ConfigError(std::string(what) +
                      " needs a transaction: call setAutoCommit(false) on the connection so that "
                      "the " +
                      std::string(item) + " commits with your change");
  }
  return mysql_connection(conn, what);
}

sql::mysql::MySQL_Connection& mysql_connection(sql::Connection& conn, std::string_view what) {
  auto* mysql = dynamic_cast<sql::mysql::MySQL_Connection*>(&conn);
  if (mysql == nullptr) throw ConfigError(std::string(what) + " needs a MySQL connection");
  return *mysql;
}

namespace {

DatabaseErrorKind kind_of(int code) {
  switch (code) {
    case 1146:
      return DatabaseErrorKind::undefined_table;
    case 1054:
      return DatabaseErrorKind::undefined_column;
    case 1062:
      return DatabaseErrorKind::unique_violation;
    case 1205:  // lock wait timeout
    case 1213:  // deadlock
      return DatabaseErrorKind::transient;
    case 2002:
    case 2003:
    case 2005:
    case 2006:
    case 2013:
    case 2055:
    case 1053:  // server shutdown in progress
    case 1927:  // connection killed
      return DatabaseErrorKind::connection;
    case 1264:
    case 1265:
    case 1366:
    case 1406:
      return DatabaseErrorKind::data;
    default:
      return DatabaseErrorKind::other;
  }
}

}  // namespace

[[noreturn]] void rethrow_mysql(bool* broken) {
  try {
    throw;
  } catch (const DatabaseError&) {
    throw;
  } catch (const sql::SQLException& e) {
    const auto kind = kind_of(e.getErrorCode());
    if (kind == DatabaseErrorKind::connection && broken) *broken = true;
    throw DatabaseError(
        kind, "mysql: " + one_line(e.what()) + " (error " + std::to_string(e.getErrorCode()) + ")");
  }
}

namespace {

class MySqlRow final : public Row {
 public:
  explicit MySqlRow(sql::ResultSet& rs) : rs_(rs) {}
  bool is_null(int c) const override { return rs_.isNull(static_cast<uint32_t>(c + 1)); }
  std::int64_t int64(int c) const override { return rs_.getInt64(static_cast<uint32_t>(c + 1)); }
  std::string_view text(int c) const override {
    auto& slot = scratch_[static_cast<std::size_t>(c) % 8];
    slot = rs_.getString(static_cast<uint32_t>(c + 1)).asStdString();
    return slot;
  }

 private:
  sql::ResultSet& rs_;
  mutable std::string scratch_[8];
};

}  // namespace

ConnectInfo connect_info(const Uri& uri, const DatabaseOptions& options) {
  uri.check_params({});
  if (uri.host.empty()) {
    throw ConfigError("MySQL DSN " + uri.redacted() +
                      " names no host: use mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE");
  }
  std::string schema = uri.path;
  if (!schema.empty() && schema.front() == '/') schema.erase(0, 1);
  if (schema.empty() || schema.find('/') != std::string::npos) {
    throw ConfigError("MySQL DSN " + uri.redacted() +
                      " must name one database: mysql://USER@HOST:PORT/DATABASE");
  }
  ConnectInfo info;
  info.host = "tcp://" + uri.host + ":" + std::to_string(uri.port.value_or(3306));
  info.user = uri.user;
  info.password = uri.password.value_or("");
  info.schema = schema;
  info.timeout_seconds = static_cast<int>(std::max<long long>(
      1, std::chrono::duration_cast<std::chrono::seconds>(options.connect_timeout).count()));
  info.redacted = uri.redacted();
  return info;
}

std::unique_ptr<sql::Connection> open_mysql_connection(const ConnectInfo& info, bool own) {
  sql::mysql::MySQL_Driver* driver = nullptr;
  {
    // The driver instance is created once; creating it from several threads at once is not safe.
    static std::mutex init;
    std::lock_guard lock(init);
    driver = sql::mysql::get_mysql_driver_instance();
  }
  sql::ConnectOptionsMap options;
  options["hostName"] = sql::SQLString(info.host);
  options["userName"] = sql::SQLString(info.user);
  options["password"] = sql::SQLString(info.password);
  options["schema"] = sql::SQLString(info.schema);
  options["OPT_CONNECT_TIMEOUT"] = info.timeout_seconds;
  options["OPT_RECONNECT"] = false;
  options["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
  try {
    std::unique_ptr<sql::Connection> conn(driver->connect(options));
    if (own) {
      std::unique_ptr<sql::Statement> st(conn->createStatement());
      // UTC for exact TIMESTAMP round trips; short lock waits so a reader filling a hole never
      // hangs on a long transaction (it retries later).
      st->execute("SET time_zone = '+00:00', innodb_lock_wait_timeout = 1");
    }
    return conn;
  } catch (const sql::SQLException& e) {
    const int code = e.getErrorCode();
    if (code == 1045 || code == 1044 || code == 1049 || code == 1698) {
      throw ConfigError("MySQL/MariaDB refused " + info.redacted + ": " + one_line(e.what()));
    }
    throw Unavailable("MySQL/MariaDB at " + info.redacted + " is unreachable: " +
                      one_line(e.what()) + " (error " + std::to_string(code) + ")");
  }
}

MySqlSession::MySqlSession(const ConnectInfo& info) : conn_(open_mysql_connection(info, true)) {}

MySqlSession::~MySqlSession() {
  statements_.clear();
  try {
    conn_->close();
  } catch (...) {
  }
}

void MySqlSession::query(std::string_view sql, std::span<const Param> params,
                         const RowCallback& on_row) {
  try {
    auto& stmt = bind(sql, params);
    std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
    MySqlRow row(*rs);
    while (rs->next()) on_row(row);
  } catch (...) {
    rethrow_mysql(&broken_);
  }
}

std::uint64_t MySqlSession::execute(std::string_view sql, std::span<const Param> params) {
  try {
    return static_cast<std::uint64_t>(bind(sql, params).executeUpdate());
  } catch (...) {
    rethrow_mysql(&broken_);
  }
}

void MySqlSession::execute_script(std::string_view statements) {
  try {
    std::unique_ptr<sql::Statement> st(conn_->createStatement());
    std::size_t start = 0;
    while (start < statements.size()) {
      auto end = statements.find(";\n", start);
      if (end == std::string_view::npos) end = statements.size();
      const auto one = statements.substr(start, end - start);
      if (one.find_first_not_of(" \n\t") != std::string_view::npos) st->execute(std::string(one));
      start = end + 2;
    }
  } catch (...) {
    rethrow_mysql(&broken_);
  }
}

void MySqlSession::begin() {
  try {
    conn_->setAutoCommit(false);
  } catch (...) {
    rethrow_mysql(&broken_);
  }
}
void MySqlSession::commit() {
  try {
    conn_->commit();
    conn_->setAutoCommit(true);
  } catch (...) {
    rethrow_mysql(&broken_);
  }
}
void MySqlSession::rollback() noexcept {
  try {
    conn_->rollback();
    conn_->setAutoCommit(true);
  } catch (...) {
    broken_ = true;
  }
}
bool MySqlSession::broken() const noexcept {
  return broken_ || conn_->isClosed();
}

void bind_params(sql::PreparedStatement& stmt, std::span<const Param> params,
                 std::vector<std::unique_ptr<std::istringstream>>& blobs) {
  blobs.clear();
  blobs.reserve(params.size());
  unsigned index = 1;
  for (const auto& param : params) {
    if (std::holds_alternative<std::nullptr_t>(param)) {
      stmt.setNull(index, sql::DataType::VARCHAR);
    } else if (const auto* i = std::get_if<std::int64_t>(&param)) {
      stmt.setInt64(index, *i);
    } else if (const auto* t = std::get_if<std::string_view>(&param)) {
      stmt.setString(index, sql::SQLString(t->data(), t->size()));
    } else {
      const auto bytes = std::get<Blob>(param).bytes;
      blobs.push_back(std::make_unique<std::istringstream>(std::string(bytes)));
      stmt.setBlob(index, blobs.back().get());
    }
    ++index;
  }
}

sql::PreparedStatement& MySqlSession::bind(std::string_view sql, std::span<const Param> params) {
  auto it = statements_.find(std::string(sql));
  if (it == statements_.end()) {
    it = statements_
             .emplace(std::string(sql), std::unique_ptr<sql::PreparedStatement>(
                                            conn_->prepareStatement(std::string(sql))))
             .first;
  }
  bind_params(*it->second, params, blobs_);
  return *it->second;
}

namespace {

/// Statements on a caller's connection inside its transaction (sql_on): each text prepared once
/// for the life of this object.
class CallersMySql final : public Sql {
 public:
  explicit CallersMySql(sql::Connection& conn) : conn_(conn) {}

  void query(std::string_view sql, std::span<const Param> params,
             const RowCallback& on_row) override {
    try {
      std::unique_ptr<sql::ResultSet> rs(bind(sql, params).executeQuery());
      MySqlRow row(*rs);
      while (rs->next()) on_row(row);
    } catch (...) {
      rethrow_mysql(nullptr);
    }
  }
  std::uint64_t execute(std::string_view sql, std::span<const Param> params) override {
    try {
      return static_cast<std::uint64_t>(bind(sql, params).executeUpdate());
    } catch (...) {
      rethrow_mysql(nullptr);
    }
  }

 private:
  sql::PreparedStatement& bind(std::string_view sql, std::span<const Param> params) {
    auto it = statements_.find(std::string(sql));
    if (it == statements_.end()) {
      it = statements_
               .emplace(std::string(sql), std::unique_ptr<sql::PreparedStatement>(
                                              conn_.prepareStatement(std::string(sql))))
               .first;
    }
    bind_params(*it->second, params, blobs_);
    return *it->second;
  }

  sql::Connection& conn_;
  std::unordered_map<std::string, std::unique_ptr<sql::PreparedStatement>> statements_;
  std::vector<std::unique_ptr<std::istringstream>> blobs_;
};

}  // namespace

std::unique_ptr<Sql> callers_mysql_sql(sql::Connection& conn) {
  (void)in_callers_transaction(conn, "sql_on(sql::Connection&)", "statement");
  return std::make_unique<CallersMySql>(conn);
}

}  // namespace reflex::rsql::detail
