// The consumer process of the balance kill test: applies the events of an events table to a
// balances table (foreign id = account, type = amount) with a transactional spec, one UPDATE per
// event in the handed transaction, and exits 0 at the head. Killed at any point, it leaves every
// batch applied with its cursor, or neither. It pauses PAUSE_MS in each batch's transaction, after
// the updates, so that a kill finds a transaction open more often than not and a run lasts long
// enough to be killed ten times.
//   rsql_balance_consumer DSN EVENTS CURSORS BALANCES MAX_BATCH PAUSE_MS

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "reflex/errors.hpp"
#include "reflex/rsql/config.hpp"
#include "reflex/rsql/rsql.hpp"
#include "reflex/run.hpp"

#if REFLEX_RSQL_HAS_POSTGRES
#include <pqxx/pqxx>

#include "reflex/rsql/postgres.hpp"
#endif
#if REFLEX_RSQL_HAS_MYSQL
#include <cppconn/statement.h>
#include <mysql_connection.h>

#include "reflex/rsql/mysql.hpp"
#endif
#if REFLEX_RSQL_HAS_SQLITE
#include <sqlite3.h>

#include "reflex/rsql/sqlite.hpp"
#endif

namespace {

using reflex::Event;
namespace rpatterns = reflex::rpatterns;
namespace rsql = reflex::rsql;

/// The UPDATE of one event (integers only: nothing to escape).
std::string update(const std::string& balances, const Event& e) {
  return "UPDATE " + balances + " SET amount = amount + " + std::to_string(e.type) +
         " WHERE account = " + e.foreign_id;
}

template <class Transaction, class Exec>
reflex::Spec spec(const std::shared_ptr<rsql::Database>& db, const rsql::EventsTable& table,
                  const std::string& cursors, const std::string& balances,
                  const rpatterns::TransactionalOptions& options, std::chrono::milliseconds pause,
                  Exec exec) {
  return rpatterns::transactional_spec<Transaction>(
      table.stream_func(),
      rsql::transactional_cursors<Transaction>(db, {.cursors = {.table = cursors}}),
      {.name = "balance"},
      [balances, pause, exec](std::stop_token, Transaction tx, std::span<const Event> events) {
        for (const auto& e : events) exec(tx, update(balances, e));
        std::this_thread::sleep_for(pause);
      },
      options);
}

reflex::Spec make_spec(const std::shared_ptr<rsql::Database>& db, const rsql::EventsTable& table,
                       const std::string& cursors, const std::string& balances,
                       const rpatterns::TransactionalOptions& options,
                       std::chrono::milliseconds pause) {
  switch (db->dialect()) {
#if REFLEX_RSQL_HAS_POSTGRES
    case rsql::Dialect::postgres:
      return spec<pqxx::transaction_base&>(
          db, table, cursors, balances, options, pause,
          [](pqxx::transaction_base& tx, const std::string& sql) { tx.exec0(sql); });
#endif
#if REFLEX_RSQL_HAS_MYSQL
    case rsql::Dialect::mysql:
      return spec<sql::Connection&>(db, table, cursors, balances, options, pause,
                                    [](sql::Connection& conn, const std::string& sql) {
                                      std::unique_ptr<sql::Statement> st(conn.createStatement());
                                      st->executeUpdate(sql);
                                    });
#endif
#if REFLEX_RSQL_HAS_SQLITE
    case rsql::Dialect::sqlite:
      return spec<sqlite3*>(
          db, table, cursors, balances, options, pause, [](sqlite3* conn, const std::string& sql) {
            if (sqlite3_exec(conn, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
              throw std::runtime_error(sqlite3_errmsg(conn));
            }
          });
#endif
    default:
      break;
  }
  throw reflex::ConfigError("rsql_balance_consumer: this build lacks the dialect of the DSN");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::cerr << "usage: rsql_balance_consumer DSN EVENTS CURSORS BALANCES MAX_BATCH PAUSE_MS\n";
    return 2;
  }
  try {
    auto db = rsql::Database::open(argv[1]);
    const rsql::EventsTable table(db, {.schema = {.table = argv[2]}});
    const rpatterns::TransactionalOptions options{
        .max_batch = static_cast<std::size_t>(std::atoi(argv[5])),
        .window = std::chrono::milliseconds(2),
        .stream = {.to_head = true}};
    const auto spec = make_spec(db, table, argv[3], argv[4], options,
                                std::chrono::milliseconds(std::atoi(argv[6])));
    for (;;) {
      try {
        reflex::run({}, spec);
      } catch (const reflex::HeadReached&) {
        std::cout << "head reached" << std::endl;
        return 0;
      } catch (const std::exception& e) {
        // A lock the killed predecessor held may still be released by the server: try again.
        if (!reflex::is_retryable(e)) throw;
        std::cerr << "retrying: " << e.what() << std::endl;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "rsql_balance_consumer: " << e.what() << '\n';
    return 1;
  }
}
