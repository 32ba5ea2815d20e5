// A small service on PostgreSQL: it owns a `users` table and writes each change and its event in
// one transaction; three consumers (a welcome mailer, an audit log and a search indexer) follow
// the events table in this process, each with its own cursor in a cursors table.
//
//   postgres_service [DSN]    (default: $REFLEX_PG_DSN, then $REFLEX_TEST_PG_DSN)
//
// It runs a bounded demo (creates users, changes emails, deletes some), waits until every consumer
// has seen every event, prints a summary, drops its tables and exits 0.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <pqxx/pqxx>
#include <reflex/reflex.hpp>
#include <reflex/rsql/postgres.hpp>
#include <reflex/rsql/rsql.hpp>
#include <thread>

namespace {

enum class UserEvent { Created = 1, EmailChanged = 2, Deleted = 3 };

class UserService {
 public:
  UserService(const std::string& dsn, reflex::rsql::EventsTable events, std::string users)
      : conn_(dsn), events_(std::move(events)), users_(std::move(users)) {}

  std::int64_t create(const std::string& name) {
    pqxx::work tx(conn_);
    const auto id =
        tx.exec_params1("INSERT INTO " + users_ + " (name) VALUES ($1) RETURNING id", name)[0]
            .as<std::int64_t>();
    auto notify = events_.insert(tx, id, UserEvent::Created);
    tx.commit();
    notify();
    return id;
  }

  void change_email(std::int64_t id, const std::string& email) {
    pqxx::work tx(conn_);
    // The event rides on the UPDATE: one statement, one round trip.
    auto notify = events_.insert_with(tx, "UPDATE " + users_ + " SET email = $1 WHERE id = $2",
                                      {email, std::to_string(id)},
                                      {.foreign_id = id,
                                       .type = reflex::type_value(UserEvent::EmailChanged),
                                       .metadata = R"({"email":")" + email + "\"}"});
    tx.commit();
    notify();
  }

  void remove(std::int64_t id) {
    pqxx::work tx(conn_);
    tx.exec_params0("DELETE FROM " + users_ + " WHERE id = $1", id);
    auto notify = events_.insert(tx, id, UserEvent::Deleted);
    tx.commit();
    notify();
  }

 private:
  pqxx::connection conn_;
  reflex::rsql::EventsTable events_;
  std::string users_;
};

}  // namespace

int main(int argc, char** argv) {
  const char* env_dsn = std::getenv("REFLEX_PG_DSN");
  if (!env_dsn) env_dsn = std::getenv("REFLEX_TEST_PG_DSN");
  const std::string dsn = argc > 1 ? argv[1] : env_dsn ? env_dsn : "";
  if (dsn.empty()) {
    std::cerr << "usage: postgres_service postgresql://USER@HOST:PORT/DB (or set REFLEX_PG_DSN)\n";
    return 2;
  }
  const std::string suffix = std::to_string(getpid());
  const std::string users = "users_" + suffix;
  const std::string events_name = "user_events_" + suffix;
  const std::string cursors_name = "cursors_" + suffix;
  try {
    auto db = reflex::rsql::Database::open(dsn);
    db->execute("CREATE TABLE " + users +
                " (id bigserial PRIMARY KEY, name text NOT NULL, email text)");
    db->create_events_table({.table = events_name});
    db->create_cursors_table({.table = cursors_name});
    reflex::rsql::EventsTable events(db, {.schema = {.table = events_name}});
    auto cursors = std::make_shared<reflex::rsql::CursorsTable>(
        db, reflex::rsql::CursorsTableOptions{.schema = {.table = cursors_name}});

    constexpr int kUsers = 50;
    constexpr int kEvents = kUsers + kUsers / 2 + kUsers / 5;  // created, changed, deleted
    std::mutex print;
    std::atomic<int> mails{0}, audited{0}, indexed{0};
    std::stop_source stop;
    const auto follow = [&](std::string name, std::atomic<int>& counter,
                            std::function<void(const reflex::Event&)> fn,
                            reflex::ConsumerOptions options = {}) {
      return std::jthread([&, name, fn, options] {
        auto consumer = reflex::make_consumer(
            name,
            [&, fn](const reflex::Event& e) {
              fn(e);
              ++counter;
            },
            options);
        reflex::run(stop.get_token(), reflex::Spec{.stream = events.stream_func(),
                                                   .cursors = cursors,
                                                   .consumer = consumer,
                                                   .options = {}});
      });
    };
    std::atomic<int> seen_by_audit{0};
    auto mailer = follow("welcome-mailer", mails, [](const reflex::Event&) {},
                         {.include_types = reflex::types(UserEvent::Created)});
    auto audit = follow("audit-log", audited, [&](const reflex::Event& e) {
      if (++seen_by_audit <= 3) {
        std::lock_guard lock(print);
        std::cout << "audit-log: event " << e.id << " type " << e.type << " user " << e.foreign_id
                  << std::endl;
      }
    });
    auto indexer = follow("search-indexer", indexed, [](const reflex::Event&) {});

    UserService service(dsn, events, users);
    std::vector<std::int64_t> ids;
    for (int i = 0; i < kUsers; ++i) ids.push_back(service.create("user" + std::to_string(i)));
    for (int i = 0; i < kUsers; i += 2)
      service.change_email(ids[i], "u" + std::to_string(i) + "@example.org");
    for (int i = 0; i < kUsers; i += 5) service.remove(ids[i]);

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while ((audited < kEvents || indexed < kEvents || mails < kUsers) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    stop.request_stop();
    mailer.join();
    audit.join();
    indexer.join();
    std::cout << "welcome-mailer sent " << mails << " mails (cursor "
              << cursors->get("welcome-mailer") << ")\naudit-log recorded " << audited
              << " events (cursor " << cursors->get("audit-log") << ")\nsearch-indexer indexed "
              << indexed << " events (cursor " << cursors->get("search-indexer") << ")"
              << std::endl;
    db->execute("DROP TABLE " + users + ";\nDROP TABLE " + events_name + ";\nDROP TABLE " +
                cursors_name);
    const bool ok = mails == kUsers && audited == kEvents && indexed == kEvents;
    if (!ok) std::cerr << "postgres_service: not every consumer saw every event\n";
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "postgres_service: " << e.what() << std::endl;
    return 1;
  }
}
