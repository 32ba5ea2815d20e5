// Quickstart: a service writes a user and its event in ONE SQLite transaction (the transactional
// outbox), and a consumer follows the events table, printing each event and keeping its cursor in a
// cursors table of the same database.
//
//   quickstart [DB_FILE]     (default: a fresh file in the temp directory, removed at exit)
//
// The same consumer code runs on PostgreSQL or MariaDB (Database::open("postgresql://...")), on a
// gRPC peer or on a JetStream stream: only Spec::stream changes.
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <reflex/reflex.hpp>
#include <reflex/rsql/rsql.hpp>
#include <reflex/rsql/sqlite.hpp>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

enum class UserEvent { Created = 1, EmailChanged = 2, Deleted = 3 };

const char* to_string(int type) {
  switch (static_cast<UserEvent>(type)) {
    case UserEvent::Created:
      return "UserCreated";
    case UserEvent::EmailChanged:
      return "UserEmailChanged";
    case UserEvent::Deleted:
      return "UserDeleted";
  }
  return "Unknown";
}

/// The service's own connection (reflex never owns it).
class AppDb {
 public:
  explicit AppDb(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db_));
    sqlite3_busy_timeout(db_, 5000);
    exec(
        "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT "
        "NULL, email TEXT)");
  }
  ~AppDb() { sqlite3_close(db_); }
  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      const std::string message = error ? error : "unknown error";
      sqlite3_free(error);
      throw std::runtime_error(message);
    }
  }
  [[nodiscard]] sqlite3* handle() const { return db_; }
  [[nodiscard]] std::int64_t last_id() const { return sqlite3_last_insert_rowid(db_); }

 private:
  sqlite3* db_ = nullptr;
};

/// A business change and its event commit together, or neither does.
void change_user(AppDb& app, const reflex::rsql::EventsTable& events, const std::string& sql,
                 std::int64_t user_id, UserEvent type, std::string metadata = {}) {
  app.exec("BEGIN");
  try {
    app.exec(sql);
    const std::int64_t id = user_id ? user_id : app.last_id();
    auto notify = events.insert(app.handle(), id, type, std::move(metadata));
    app.exec("COMMIT");
    notify();  // wake the consumers now instead of at their next poll
  } catch (...) {
    app.exec("ROLLBACK");
    throw;
  }
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  const bool temporary = argc < 2;
  const fs::path path = temporary ? fs::temp_directory_path() /
                                        ("reflex-quickstart-" + std::to_string(getpid()) + ".db")
                                  : fs::absolute(argv[1]);
  try {
    auto db = reflex::rsql::Database::open("sqlite://" + path.string());
    db->create_events_table({.table = "user_events"});
    db->create_cursors_table({.table = "cursors"});
    reflex::rsql::EventsTable events(db, {.schema = {.table = "user_events"}});
    auto cursors =
        std::make_shared<reflex::rsql::CursorsTable>(db, reflex::rsql::CursorsTableOptions{});

    // Consumer side: follows the table from its stored cursor; the cursor moves only after the
    // event was handled.
    int seen = 0;
    std::stop_source stop;
    auto printer = reflex::make_consumer("printer", [&](const reflex::Event& e) {
      // One write per line: the producer thread prints too, and lines must not interleave.
      std::string line =
          "consumed event id=" + e.id + " type=" + to_string(e.type) + " user=" + e.foreign_id;
      if (!e.metadata.empty()) line += " metadata=" + e.metadata;
      std::cout << line + "\n" << std::flush;
      if (++seen == 4) stop.request_stop();
    });
    std::jthread consumer([&] {
      reflex::run(stop.get_token(), reflex::Spec{.stream = events.stream_func(),
                                                 .cursors = cursors,
                                                 .consumer = printer,
                                                 .options = {}});
    });

    // Producer side: the service changes users; each change writes its event in the same
    // transaction.
    AppDb app(path.string());
    change_user(app, events, "INSERT INTO users (name) VALUES ('alice')", 0, UserEvent::Created);
    const std::int64_t alice = app.last_id();
    change_user(app, events, "INSERT INTO users (name) VALUES ('bob')", 0, UserEvent::Created);
    const std::int64_t bob = app.last_id();
    change_user(app, events,
                "UPDATE users SET email = 'alice@example.org' WHERE id = " + std::to_string(alice),
                alice, UserEvent::EmailChanged, R"({"email":"alice@example.org"})");
    try {
      // A failed change rolls back its event too: consumers never hear of it.
      change_user(app, events, "INSERT INTO no_such_table VALUES (1)", 0, UserEvent::Created);
    } catch (const std::exception& e) {
      std::cout << "rolled back a failed change (" + std::string(e.what()) + "): no event\n"
                << std::flush;
    }
    change_user(app, events, "DELETE FROM users WHERE id = " + std::to_string(bob), bob,
                UserEvent::Deleted);

    consumer.join();
    std::cout << "cursor of \"printer\" = " << cursors->get("printer") << std::endl;

    // A later run resumes after the stored cursor: only the new event is consumed.
    change_user(app, events, "INSERT INTO users (name) VALUES ('carol')", 0, UserEvent::Created);
    try {
      reflex::run(std::stop_token{}, reflex::Spec{.stream = events.stream_func(),
                                                  .cursors = cursors,
                                                  .consumer = printer,
                                                  .options = {.to_head = true}});
    } catch (const reflex::HeadReached&) {
      std::cout << "reached the head; cursor of \"printer\" = " << cursors->get("printer")
                << std::endl;
    }
  } catch (const std::exception& e) {
    std::cerr << "quickstart: " << e.what() << std::endl;
    if (temporary) fs::remove(path);
    return 1;
  }
  if (temporary) {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix);
  }
  return 0;
}
