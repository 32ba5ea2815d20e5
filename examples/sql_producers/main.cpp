// The producer API of the server dialects, on the caller's own transactions: PostgreSQL (libpqxx)
// and MariaDB/MySQL (mysql-connector-c++). rsql.md cuts its producer samples from here.
//
//   sql_producers [POSTGRES_DSN [MYSQL_DSN]]   (default: $REFLEX_TEST_PG_DSN,
//   $REFLEX_TEST_MYSQL_DSN)
//
// Each part debits an account and writes its events in the same transaction, then streams the
// table to the head and checks that every event is there once; it drops its tables at the end.
// A dialect this reflex was built without is left out (its header does not exist then).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <reflex/reflex.hpp>
#include <reflex/rsql/config.hpp>  // REFLEX_RSQL_HAS_POSTGRES, _MYSQL, _SQLITE
#include <reflex/rsql/rsql.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#if REFLEX_RSQL_HAS_POSTGRES
// [snippet:postgres-includes]
#include <pqxx/pqxx>                 // linked by the program itself: pkg-config libpqxx
#include <reflex/rsql/postgres.hpp>  // insert(pqxx::transaction_base&, ...), insert_with
// [end snippet]
#endif
#if REFLEX_RSQL_HAS_MYSQL
// [snippet:mysql-includes]
#include <cppconn/prepared_statement.h>  // linked by the program itself: mysqlcppconn
#include <mysql_connection.h>

#include <reflex/rsql/mysql.hpp>  // connect_mysql, insert(sql::Connection&, ...)
// [end snippet]
#endif

namespace {

enum class AccountEvent { Opened = 1, Debited = 2, Credited = 3 };

const std::string payload = R"({"amount":30})";
const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The foreign ids of every event of the table, in stream order.
std::vector<std::string> stream_to_head(const reflex::rsql::EventsTable& events) {
  std::vector<std::string> out;
  auto stream = events.stream({}, "", {.to_head = true});
  try {
    for (;;) out.push_back(stream->recv().foreign_id);
  } catch (const reflex::HeadReached&) {
  }
  return out;
}

void expect(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("sql_producers: " + what);
}

#if REFLEX_RSQL_HAS_POSTGRES
void postgres(const std::string& dsn) {
  const std::string suffix = std::to_string(getpid());
  const std::string accounts = "accounts_" + suffix;
  const std::string events_table = "account_events_" + suffix;
  auto db = reflex::rsql::Database::open(dsn);
  db->execute("CREATE TABLE " + accounts + " (id bigint PRIMARY KEY, balance bigint NOT NULL)");
  db->create_events_table({.table = events_table});
  reflex::rsql::EventsTable events(db, {.schema = {.table = events_table}});
  const std::int64_t account = 7;
  const std::int64_t amount = 30;

  pqxx::connection conn(dsn);  // libpq takes the DSN as it is
  {
    pqxx::work tx(conn);
    tx.exec_params("INSERT INTO " + accounts + " (id, balance) VALUES ($1, 100)", account);
    auto notify = events.insert(tx, account, AccountEvent::Opened);
    tx.commit();
    notify();
  }
  {
    // [snippet:postgres-insert]
    pqxx::work tx(conn);
    tx.exec_params("UPDATE " + accounts + " SET balance = balance - $1 WHERE id = $2", amount,
                   account);
    auto notify = events.insert(tx, account, AccountEvent::Debited);  // string or integer id
    // Many events in one statement (COPY from 32 events on):
    auto more = events.insert_batch(
        tx, std::vector<reflex::rsql::NewEvent>{
                {.foreign_id = "a-1", .type = 2, .metadata = payload, .trace = traceparent},
                {.foreign_id = "a-2", .type = 2, .metadata = payload, .trace = traceparent}});
    tx.commit();
    notify();  // after the commit; each notifier wakes every stream of the table
    // [end snippet]
  }
  {
    // [snippet:postgres-insert-with]
    pqxx::work tx(conn);
    auto notify = events.insert_with(
        tx, "UPDATE " + accounts + " SET balance = balance - $1 WHERE id = $2",
        {std::to_string(amount), std::to_string(account)},  // text; std::nullopt is NULL
        {.foreign_id = account, .type = reflex::type_value(AccountEvent::Debited)});
    tx.commit();
    notify();
    // [end snippet]
  }
  {
    // [snippet:postgres-free-functions]
    // What the members call, as free functions of <reflex/rsql/postgres.hpp>:
    pqxx::work tx(conn);
    const reflex::rsql::NewEvent credited{.foreign_id = account, .type = 3};
    auto notify = reflex::rsql::insert_events(events, tx, std::span(&credited, 1));
    tx.commit();
    notify();
    // [end snippet]
  }
  {
    // [snippet:publish]
    // No transaction of your own to join (a script, a migration): reflex's own, all or nothing.
    events.publish(std::vector<reflex::rsql::NewEvent>{
        {.foreign_id = "42", .type = reflex::type_value(AccountEvent::Opened)}});
    // [end snippet]
  }

  const auto ids = stream_to_head(events);
  expect(ids == std::vector<std::string>{"7", "7", "a-1", "a-2", "7", "7", "42"},
         "PostgreSQL: unexpected events");
  pqxx::work tx(conn);
  const auto balance =
      tx.exec_params1("SELECT balance FROM " + accounts + " WHERE id = $1", account)[0]
          .as<std::int64_t>();
  tx.commit();
  expect(balance == 40, "PostgreSQL: the debits did not commit");
  db->execute("DROP TABLE " + accounts + ";\nDROP TABLE " + events_table);
  std::cout << "PostgreSQL: " << ids.size() << " events, each with its change" << std::endl;
}
#endif

#if REFLEX_RSQL_HAS_MYSQL
void mysql(const std::string& dsn) {
  const std::string suffix = std::to_string(getpid());
  const std::string accounts = "accounts_" + suffix;
  const std::string events_table = "account_events_" + suffix;
  auto db = reflex::rsql::Database::open(dsn);
  db->execute("CREATE TABLE " + accounts + " (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)");
  db->execute("INSERT INTO " + accounts + " (id, balance) VALUES (7, 100)");
  db->create_events_table({.table = events_table});
  reflex::rsql::EventsTable events(db, {.schema = {.table = events_table}});
  const std::int64_t account = 7;
  const std::int64_t amount = 30;

  // [snippet:mysql-insert]
  auto conn = reflex::rsql::connect_mysql(dsn);  // the DSN of Database::open
  conn->setAutoCommit(false);                    // the caller's transaction holds the event
  for (int attempt = 1;; ++attempt) {
    try {
      std::unique_ptr<sql::PreparedStatement> debit(
          conn->prepareStatement("UPDATE " + accounts + " SET balance = balance - ? WHERE id = ?"));
      debit->setInt64(1, amount);
      debit->setInt64(2, account);
      debit->executeUpdate();
      auto notify = events.insert(*conn, account, AccountEvent::Debited);
      conn->commit();
      notify();
      break;
    } catch (const reflex::rsql::DatabaseError& e) {
      conn->rollback();
      // A deadlock, or an id a stream reader filled meanwhile: nothing was written, run it again.
      if (!e.retryable() || attempt == 3) throw;
    }
  }
  // [end snippet]

  const auto ids = stream_to_head(events);
  expect(ids == std::vector<std::string>{"7"}, "MariaDB: unexpected events");
  db->execute("DROP TABLE " + accounts + ";\nDROP TABLE " + events_table);
  std::cout << "MariaDB: " << ids.size() << " event, with its change" << std::endl;
}
#endif

std::string argument(int argc, char** argv, int index, const char* variable) {
  if (argc > index) return argv[index];
  const char* value = std::getenv(variable);
  if (!value || !*value) throw std::runtime_error(std::string("set ") + variable);
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  try {
#if REFLEX_RSQL_HAS_POSTGRES
    postgres(argument(argc, argv, 1, "REFLEX_TEST_PG_DSN"));
#endif
#if REFLEX_RSQL_HAS_MYSQL
    mysql(argument(argc, argv, 2, "REFLEX_TEST_MYSQL_DSN"));
#endif
  } catch (const std::exception& e) {
    std::cerr << "sql_producers: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
