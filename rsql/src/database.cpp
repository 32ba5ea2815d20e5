#include "reflex/rsql/database.hpp"

#include <string>

#include "access.hpp"
#include "driver.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/config.hpp"
#include "reflex/uri.hpp"
#include "session_pool.hpp"

namespace reflex::rsql {

namespace {

/// The dialects are chosen by the DSN at run time, so a dialect this build lacks is a
/// ConfigError saying how to get it (its producer API does not compile without it).
[[noreturn, maybe_unused]] void missing(std::string_view dialect, std::string_view option,
                                        std::string_view library) {
  throw ConfigError("this reflex build has no " + std::string(dialect) +
                    " support: rebuild with -D" + std::string(option) + "=ON (needs " +
                    std::string(library) + ")");
}

}  // namespace

std::shared_ptr<Database> Database::open(std::string_view dsn, const DatabaseOptions& options) {
  const Uri uri = parse_uri(dsn);
  if (!options.primary_dsn.empty() && uri.scheme != "postgresql" && uri.scheme != "postgres") {
    throw ConfigError("DatabaseOptions::primary_dsn is for PostgreSQL standbys, not " +
                      uri.redacted());
  }
  std::shared_ptr<detail::Driver> driver;
  if (uri.scheme == "sqlite") {
#if REFLEX_RSQL_HAS_SQLITE
    driver = detail::make_sqlite_driver(uri, options);
#else
    missing("SQLite", "REFLEX_WITH_SQLITE", "libsqlite3");
#endif
  } else if (uri.scheme == "postgresql" || uri.scheme == "postgres") {
#if REFLEX_RSQL_HAS_POSTGRES
    driver = detail::make_postgres_driver(uri, options);
#else
    missing("PostgreSQL", "REFLEX_WITH_POSTGRES", "libpqxx");
#endif
  } else if (uri.scheme == "mysql" || uri.scheme == "mariadb") {
#if REFLEX_RSQL_HAS_MYSQL
    driver = detail::make_mysql_driver(uri, options);
#else
    missing("MySQL/MariaDB", "REFLEX_WITH_MYSQL", "mysql-connector-c++");
#endif
  } else {
    throw ConfigError("unknown database scheme '" + uri.scheme + "' in " + uri.redacted() +
                      ": use postgresql://, mysql:// (or mariadb://) or sqlite:///");
  }
  return detail::Access::make_database(std::move(driver));
}

Database::Database(std::shared_ptr<detail::Driver> driver)
    : driver_(std::move(driver)), pool_(std::make_unique<detail::SessionPool>(driver_, 16)) {}
Database::~Database() = default;

Dialect Database::dialect() const noexcept {
  return driver_->dialect();
}
const std::string& Database::redacted_dsn() const noexcept {
  return driver_->redacted_dsn();
}

void Database::ping() const {
  auto session = driver_->connect();
  session->query("SELECT 1", {}, [](const detail::Row&) {});
}

void Database::execute(std::string_view statements) const {
  auto session = driver_->connect();
  session->execute_script(statements);
}

void Database::transact(const std::function<void(Sql&)>& work) const {
  auto session = detail::begin_transaction(*pool_);
  try {
    work(*session);
    session->commit();
  } catch (...) {
    session->rollback();
    throw;
  }
}

void Database::create_events_table(const EventsSchema& schema) const {
  execute(events_ddl(dialect(), schema));
}
void Database::create_cursors_table(const CursorsSchema& schema) const {
  execute(cursors_ddl(dialect(), schema));
}
void Database::create_errors_table(const ErrorsSchema& schema) const {
  execute(errors_ddl(dialect(), schema));
}
void Database::create_inbox_table(const InboxSchema& schema) const {
  execute(inbox_ddl(dialect(), schema));
}
void Database::create_shards_tables(const ShardsSchema& schema) const {
  execute(shards_ddl(dialect(), schema));
}

}  // namespace reflex::rsql
