#include <cppconn/driver.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>

#include <mutex>

#include "backend.hpp"
#include "reflex/rsql/mysql.hpp"
#include "reflex/uri.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test::rsql {
namespace {

using reflex::rsql::EventsTable;
using reflex::rsql::NewEvent;
using reflex::rsql::Notifier;

std::unique_ptr<sql::Connection> connect(const std::string& dsn) {
  return reflex::rsql::connect_mysql(dsn);
}

class MySqlProducer final : public Producer {
 public:
  explicit MySqlProducer(const std::string& dsn) : conn_(connect(dsn)) {}
  void begin() override { conn_->setAutoCommit(false); }
  Notifier insert(const EventsTable& table, const NewEvent& event) override {
    return table.insert(*conn_, event);
  }
  Notifier insert_batch(const EventsTable& table, std::span<const NewEvent> events) override {
    return table.insert_batch(*conn_, events);
  }
  void exec(const std::string& sql) override {
    std::unique_ptr<sql::Statement> st(conn_->createStatement());
    st->execute(sql);
  }
  bool record(const reflex::rsql::Inbox& inbox, std::string_view source,
              std::string_view event_id) override {
    return reflex::rsql::record(inbox, *conn_, source, event_id);
  }
  void commit() override {
    conn_->commit();
    conn_->setAutoCommit(true);
  }
  void rollback() override {
    conn_->rollback();
    conn_->setAutoCommit(true);
  }

 private:
  std::unique_ptr<sql::Connection> conn_;
};

class MySqlHandle final : public Handle {
 public:
  explicit MySqlHandle(sql::Connection& conn) : conn_(conn) {}
  void exec(const std::string& sql) override {
    std::unique_ptr<sql::Statement> st(conn_.createStatement());
    st->execute(sql);
  }

 private:
  sql::Connection& conn_;
};

class MySqlBackend final : public Backend {
 public:
  reflex::rsql::Dialect dialect() const override { return reflex::rsql::Dialect::mysql; }
  std::string dsn() const override { return required_env("REFLEX_TEST_MYSQL_DSN"); }
  std::unique_ptr<Producer> producer() override { return std::make_unique<MySqlProducer>(dsn()); }
  std::unique_ptr<TxCursors> transactional_cursors(
      reflex::rsql::TransactionalCursorsOptions options) override {
    using T = sql::Connection&;
    return std::make_unique<TxCursorsOf<T, MySqlHandle>>(
        reflex::rsql::transactional_cursors<T>(database(), std::move(options)));
  }
  std::vector<std::string> query(const std::string& sql) override {
    auto conn = connect(dsn());
    std::unique_ptr<sql::Statement> st(conn->createStatement());
    std::unique_ptr<sql::ResultSet> rs(st->executeQuery(sql));
    std::vector<std::string> out;
    while (rs->next()) out.push_back(rs->getString(1).asStdString());
    return out;
  }
};

}  // namespace

std::unique_ptr<Backend> make_backend() {
  return std::make_unique<MySqlBackend>();
}

}  // namespace reflex_test::rsql
