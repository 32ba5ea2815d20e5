#include <cppconn/driver.h>
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

class MySqlBackend final : public Backend {
 public:
  reflex::rsql::Dialect dialect() const override { return reflex::rsql::Dialect::mysql; }
  std::string dsn() const override { return required_env("REFLEX_TEST_MYSQL_DSN"); }
  std::unique_ptr<Producer> producer() override { return std::make_unique<MySqlProducer>(dsn()); }
};

}  // namespace

std::unique_ptr<Backend> make_backend() {
  return std::make_unique<MySqlBackend>();
}

}  // namespace reflex_test::rsql
