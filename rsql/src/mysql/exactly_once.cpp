// The MariaDB/MySQL handles of exactly-once consumers: transactional cursors that hand the
// consumer the connection of reflex's own session, and inbox records on the caller's connection.
#include <cppconn/exception.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>

#include "access.hpp"
#include "error_mapping.hpp"
#include "mysql/session.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/mysql.hpp"
#include "transactional_cursors.hpp"

namespace reflex::rsql {

template <>
std::shared_ptr<rpatterns::TransactionalCursors<sql::Connection&>>
transactional_cursors<sql::Connection&>(std::shared_ptr<Database> database,
                                        TransactionalCursorsOptions options) {
  return std::make_shared<detail::TransactionalCursorsOf<sql::Connection&>>(
      std::move(database), std::move(options), Dialect::mysql,
      "transactional_cursors<sql::Connection&>",
      [](detail::Session& session) -> sql::Connection& {
        return static_cast<detail::MySqlSession&>(session).connection();
      },
      [] { detail::rethrow_mysql(nullptr); });
}

bool record(const Inbox& inbox, sql::Connection& conn, std::string_view source,
            std::string_view event_id) {
  auto& impl = detail::Access::impl(inbox);
  impl.expect_dialect(Dialect::mysql, "record(sql::Connection&)");
  detail::InboxImpl::check(source, event_id);
  try {
    // The server status of the last reply says it: no round trip.
    if (conn.getAutoCommit()) {
      throw ConfigError(
          "inbox record needs a transaction: call setAutoCommit(false) on the connection so that "
          "the record commits with your change");
    }
    auto* mysql = dynamic_cast<sql::mysql::MySQL_Connection*>(&conn);
    if (mysql == nullptr) throw ConfigError("record(sql::Connection&) needs a MySQL connection");
    // Literal values, escaped by the connection (its charset), as the producer's inserts: a
    // prepared statement would cost a round trip more.
    const auto literal = [&](std::string_view text) {
      return "'" + mysql->escapeString(sql::SQLString(text.data(), text.size())).asStdString() +
             "'";
    };
    std::unique_ptr<sql::Statement> st(conn.createStatement());
    try {
      return st->executeUpdate(impl.insert_sql(literal(source), literal(event_id))) > 0;
    } catch (...) {
      detail::rethrow_mysql(nullptr);
    }
  } catch (const ConfigError&) {
    throw;
  } catch (...) {
    detail::rethrow_with_schema_hint(inbox.options().schema.table, "inbox_ddl", Dialect::mysql);
  }
}

}  // namespace reflex::rsql
