// Built when reflex is configured without SQLite (REFLEX_WITH_SQLITE=OFF).

#include "driver.hpp"
#include "events_table_impl.hpp"
#include "reflex/errors.hpp"

namespace reflex::rsql {

namespace {
[[noreturn]] void missing() {
  throw ConfigError(
      "this reflex build has no SQLite support: rebuild with "
      "-DREFLEX_WITH_SQLITE=ON (needs libsqlite3)");
}
}  // namespace

std::shared_ptr<detail::Driver> detail::make_sqlite_driver(const Uri&, const DatabaseOptions&) {
  missing();
}
Notifier EventsTable::insert(sqlite3*, const NewEvent&) const {
  missing();
}
Notifier EventsTable::insert_batch(sqlite3*, std::span<const NewEvent>) const {
  missing();
}

}  // namespace reflex::rsql
