// The README's quickstart, whole: a service writes a user and its event in ONE SQLite
// transaction; a consumer follows the events table and keeps its cursor in the same database.
//
//   welcome_mailer [DB_FILE]   (default: reflex-welcome-mailer.db in the temp directory)
//
// Each run adds one user and mails them; the consumer resumes after its stored cursor, so a second
// run mails only the new user. tests/docs builds this file against the installed package with the
// CMakeLists.txt of standalone/, as the README shows.
// [snippet:program]
#include <sqlite3.h>  // the service's own connection: link SQLite::SQLite3

#include <atomic>
#include <filesystem>
#include <iostream>
#include <memory>
#include <reflex/reflex.hpp>       // events, consumers, run
#include <reflex/rsql/rsql.hpp>    // Database, EventsTable, CursorsTable
#include <reflex/rsql/sqlite.hpp>  // the producer API: events.insert(sqlite3*, ...)
#include <stdexcept>
#include <string>
#include <thread>  // std::jthread

enum class UserEvent { Created = 1, EmailChanged = 2 };

void exec(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
    throw std::runtime_error(sqlite3_errmsg(db));
}

void send_welcome_mail(const std::string& user_id) {
  std::cout << "welcome mail to user " << user_id << std::endl;
}

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  const fs::path path =
      argc > 1 ? fs::absolute(argv[1]) : fs::temp_directory_path() / "reflex-welcome-mailer.db";
  // The database reflex reads and writes; the same code runs on postgresql:// and mysql://.
  auto db = reflex::rsql::Database::open("sqlite://" + path.string());
  db->create_events_table({.table = "user_events"});  // DDL helpers (or run events_ddl() yourself)
  db->create_cursors_table();
  reflex::rsql::EventsTable events(db, {.schema = {.table = "user_events"}});
  auto cursors = std::make_shared<reflex::rsql::CursorsTable>(db);

  // Producer: the business change and its event commit together, or neither does.
  sqlite3* app_db = nullptr;
  if (sqlite3_open(path.c_str(), &app_db) != SQLITE_OK) throw std::runtime_error("cannot open");
  sqlite3_busy_timeout(app_db, 5000);  // reflex's own connections share the file
  exec(app_db, "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT)");
  exec(app_db, "BEGIN");
  exec(app_db, "INSERT INTO users (name) VALUES ('alice')");
  const auto user_id = sqlite3_last_insert_rowid(app_db);
  auto notify = events.insert(app_db, user_id, UserEvent::Created);  // in the open transaction
  exec(app_db, "COMMIT");
  notify();  // wake consumers now (otherwise they see it at their next poll)
  sqlite3_close(app_db);

  // Consumer: business logic per event. Throwing stops the run; the cursor stays before the event.
  std::atomic<bool> mailed = false;
  const auto mail = [&](const reflex::Event& e) {
    send_welcome_mail(e.foreign_id);
    if (e.foreign_id == std::to_string(user_id)) {
      mailed = true;
      mailed.notify_all();
    }
  };
  auto mailer = reflex::make_consumer("welcome-mailer", mail,
                                      {.include_types = reflex::types(UserEvent::Created)});

  reflex::Spec spec{.stream = events.stream_func(), .cursors = cursors, .consumer = mailer};
  std::jthread worker([&](std::stop_token stop) { reflex::run(stop, spec); });  // until stopped

  // This demo stops once the new user was mailed; a service runs until shutdown.
  mailed.wait(false);
  worker.request_stop();
  worker.join();  // run returns and flushes the cursor
  std::cout << "cursor of welcome-mailer: " << cursors->get("welcome-mailer") << std::endl;
}
// [end snippet]
