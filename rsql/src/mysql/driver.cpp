// The MariaDB/MySQL dialect's driver: its SQL fragments, sessions (session.cpp) and gap policy
// (gap_policy.cpp).
#include "driver.hpp"

#include <string>

#include "mysql/dialect.hpp"
#include "mysql/session.hpp"
#include "reflex/rsql/mysql.hpp"

namespace reflex::rsql::detail {

namespace {

class MySqlDriver final : public Driver {
 public:
  explicit MySqlDriver(ConnectInfo info) : info_(std::move(info)) {}
  Dialect dialect() const noexcept override { return Dialect::mysql; }
  const std::string& redacted_dsn() const noexcept override { return info_.redacted; }
  std::unique_ptr<Session> connect() override { return std::make_unique<MySqlSession>(info_); }
  std::string micros_expr(std::string_view column) const override {
    return "CAST(UNIX_TIMESTAMP(" + std::string(column) + ") * 1000000 AS SIGNED)";
  }
  std::string now_expr() const override { return "CURRENT_TIMESTAMP(6)"; }
  std::string micros_param_expr() const override { return "FROM_UNIXTIME(? / 1000000)"; }
  void insert_events(Session& session, const EventsTable& table,
                     std::span<const NewEvent> events) override {
    (void)rsql::insert_events(table, static_cast<MySqlSession&>(session).connection(), events);
  }
  std::unique_ptr<GapPolicy> make_gap_policy(const TableContext& table) override {
    return make_mysql_gap_policy(table);
  }

 private:
  ConnectInfo info_;
};

}  // namespace

std::shared_ptr<Driver> make_mysql_driver(const Uri& uri, const DatabaseOptions& options) {
  return std::make_shared<MySqlDriver>(connect_info(uri, options));
}

}  // namespace reflex::rsql::detail
