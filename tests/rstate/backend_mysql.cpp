#include <cppconn/statement.h>
#include <mysql_connection.h>

#include "backend.hpp"
#include "reflex/rsql/mysql.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test::rstate {
namespace {

class MySqlTransaction final : public CallerTransaction {
 public:
  explicit MySqlTransaction(const std::string& dsn) : conn_(reflex::rsql::connect_mysql(dsn)) {
    conn_->setAutoCommit(false);
  }
  reflex::rstate::Written apply(const reflex::rstate::Entities& entities,
                                reflex::rstate::Method method, const reflex::rstate::EntityRef& ref,
                                std::string_view argument,
                                const reflex::rstate::Change& change) override {
    return apply_on(entities, static_cast<sql::Connection&>(*conn_), method, ref, argument, change);
  }
  void exec(const std::string& sql) override {
    std::unique_ptr<sql::Statement> st(conn_->createStatement());
    st->execute(sql);
  }
  void commit() override { conn_->commit(); }
  void rollback() override { conn_->rollback(); }

 private:
  std::unique_ptr<sql::Connection> conn_;
};

class MySqlBackend final : public Backend {
 public:
  reflex::rsql::Dialect dialect() const override { return reflex::rsql::Dialect::mysql; }
  std::string dsn() const override { return required_env("REFLEX_TEST_MYSQL_DSN"); }
  std::unique_ptr<CallerTransaction> begin() override {
    return std::make_unique<MySqlTransaction>(dsn());
  }
  std::string failing_trigger(const std::string& events_table,
                              const std::string& key) const override {
    return "CREATE TRIGGER `" + events_table + "_fail` BEFORE INSERT ON `" + events_table +
           "` FOR EACH ROW BEGIN IF NEW.entity_key = '" + key +
           "' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'forced failure'; END IF; END";
  }
};

}  // namespace

std::unique_ptr<Backend> make_backend() {
  return std::make_unique<MySqlBackend>();
}

}  // namespace reflex_test::rstate
