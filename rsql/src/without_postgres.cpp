// Built when reflex is configured without PostgreSQL (REFLEX_WITH_POSTGRES=OFF).

#include "driver.hpp"
#include "events_table_impl.hpp"
#include "reflex/errors.hpp"

namespace reflex::rsql {

namespace {
[[noreturn]] void missing() {
  throw ConfigError(
      "this reflex build has no PostgreSQL support: rebuild with "
      "-DREFLEX_WITH_POSTGRES=ON (needs libpqxx)");
}
}  // namespace

std::shared_ptr<detail::Driver> detail::make_postgres_driver(const Uri&, const DatabaseOptions&) {
  missing();
}
Notifier EventsTable::insert(pqxx::transaction_base&, const NewEvent&) const {
  missing();
}
Notifier EventsTable::insert_batch(pqxx::transaction_base&, std::span<const NewEvent>) const {
  missing();
}

}  // namespace reflex::rsql
