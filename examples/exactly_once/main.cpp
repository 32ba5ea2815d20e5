// Exactly-once effects: deposits arrive as events and are added to account balances in the same
// SQLite database. The consumer's UPDATE and its cursor commit in one transaction (a transactional
// cursor), so running it again, or after a crash, adds nothing twice. Payments that come from
// elsewhere (another service, a queue that redelivers) are recorded in an inbox inside the
// transaction of their effect, so a duplicate is recognised and skipped.
//
//   exactly_once     (a fresh database in a temp directory, removed at exit; exits 1 on a wrong
//   sum)
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <reflex/reflex.hpp>
#include <reflex/rpatterns/rpatterns.hpp>
#include <reflex/rsql/rsql.hpp>
#include <reflex/rsql/sqlite.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace rsql = reflex::rsql;
namespace rpatterns = reflex::rpatterns;

enum class AccountEvent { Deposited = 1 };

void exec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw std::runtime_error(message);
  }
}

/// balance += amount on the connection `db`, inside whatever transaction it has open.
void add_to_balance(sqlite3* db, std::int64_t account, std::int64_t amount) {
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "UPDATE accounts SET balance = balance + ? WHERE id = ?", -1, &stmt,
                     nullptr);
  sqlite3_bind_int64(stmt, 1, amount);
  sqlite3_bind_int64(stmt, 2, account);
  const int rc = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db));
}

std::int64_t balance(sqlite3* db, std::int64_t account) {
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT balance FROM accounts WHERE id = ?", -1, &stmt, nullptr);
  sqlite3_bind_int64(stmt, 1, account);
  const std::int64_t value = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
  sqlite3_finalize(stmt);
  return value;
}

}  // namespace

int main() {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("reflex-exactly-once-" + std::to_string(getpid()));
  fs::create_directories(dir);
  int status = 0;
  try {
    auto db = rsql::Database::open("sqlite://" + (dir / "bank.db").string());
    db->create_events_table();
    db->create_cursors_table();
    db->create_inbox_table();
    db->execute(
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);\n"
        "INSERT INTO accounts (id, balance) VALUES (1, 0), (2, 0)");
    const rsql::EventsTable events(db);

    sqlite3* app = nullptr;  // the service's own connection
    sqlite3_open((dir / "bank.db").c_str(), &app);
    sqlite3_busy_timeout(app, 5000);
    exec(app, "BEGIN");
    for (const auto& [account, amount] :
         std::vector<std::pair<int, int>>{{1, 100}, {2, 40}, {1, 5}}) {
      (void)events.insert(app, account, AccountEvent::Deposited, std::to_string(amount));
    }
    exec(app, "COMMIT");

    // [snippet:transactional]
    auto cursors = rsql::transactional_cursors<sqlite3*>(db);
    const auto spec = rpatterns::transactional_spec<sqlite3*>(
        events.stream_func(), cursors, {.name = "balances"},
        [](std::stop_token, sqlite3* tx, std::span<const reflex::Event> deposits) {
          // On the transaction that also moves the cursor: both commit, or neither.
          for (const auto& e : deposits) {
            add_to_balance(tx, e.foreign_id_int(), std::stoll(e.metadata));
          }
        },
        {.max_batch = 100, .stream = {.to_head = true}});
    // [end snippet]

    // Run it twice (a restart, a redelivery): the second run adds nothing.
    for (int run = 0; run < 2; ++run) {
      try {
        reflex::run({}, spec);
      } catch (const reflex::HeadReached&) {
      }
    }
    std::cout << "after two runs: account 1 = " << balance(app, 1)
              << ", account 2 = " << balance(app, 2) << '\n';

    // [snippet:inbox]
    rsql::Inbox inbox(db);
    // Payments from another service, one delivered twice.
    const std::vector<std::pair<std::string, int>> payments = {{"p-1", 7}, {"p-2", 3}, {"p-1", 7}};
    for (const auto& [id, amount] : payments) {
      exec(app, "BEGIN");
      // The record commits with the effect: a payment seen before is skipped.
      if (rsql::record(inbox, app, "payments", id)) add_to_balance(app, 2, amount);
      exec(app, "COMMIT");
    }
    // [end snippet]
    std::cout << "after three payments, one a duplicate: account 2 = " << balance(app, 2) << '\n';

    if (balance(app, 1) != 105 || balance(app, 2) != 50) {
      std::cerr << "exactly_once: wrong balances\n";
      status = 1;
    }
    sqlite3_close(app);
  } catch (const std::exception& e) {
    std::cerr << "exactly_once: " << e.what() << '\n';
    status = 1;
  }
  fs::remove_all(dir);
  return status;
}
