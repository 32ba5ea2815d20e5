// Built when reflex is configured without MySQL/MariaDB (REFLEX_WITH_MYSQL=OFF).

#include "driver.hpp"
#include "events_table_impl.hpp"
#include "reflex/errors.hpp"

namespace reflex::rsql {

namespace {
[[noreturn]] void missing() {
  throw ConfigError(
      "this reflex build has no MySQL/MariaDB support: rebuild with "
      "-DREFLEX_WITH_MYSQL=ON (needs mysql-connector-c++)");
}
}  // namespace

std::shared_ptr<detail::Driver> detail::make_mysql_driver(const Uri&, const DatabaseOptions&) {
  missing();
}
std::unique_ptr<sql::Connection> connect_mysql(std::string_view, const DatabaseOptions&) {
  missing();
}
Notifier EventsTable::insert(sql::Connection&, const NewEvent&) const {
  missing();
}
Notifier EventsTable::insert_batch(sql::Connection&, std::span<const NewEvent>) const {
  missing();
}

}  // namespace reflex::rsql
