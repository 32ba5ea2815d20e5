// An order service that keeps its orders as entities (reflex::rstate) and a consumer that follows
// their events. Each change (set, edit, del, revert) writes the order's row and its event in one
// SQL transaction; one of them is made in the service's own transaction together with a row of
// its own table, and one with a stale expected version is refused. The
// consumer is a plain reflex consumer of the entities' events table: it reads each change from
// the event's metadata (stategate's Event JSON), without rstate.
//
//   orders [PATH]   (default: a fresh database in the temp directory, removed at exit)
//
// Exits 1 unless the consumer saw every change of this run once, in the order they committed,
// within 30 s. With PATH the database stays: the consumer resumes after its cursor, so a second
// run prints only its own changes.
#include <sqlite3.h>  // the service's own connection: link SQLite::SQLite3
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>  // only to read the events' metadata
#include <reflex/reflex.hpp>
#include <reflex/rsql/rsql.hpp>
#include <reflex/rsql/sqlite.hpp>  // sql_on(sqlite3*): the overloads on the caller's transaction
#include <reflex/rstate/entities.hpp>
#include <reflex/rstate/errors.hpp>
#include <reflex/rstate/schema.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace rstate = reflex::rstate;

void exec(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
    throw std::runtime_error(sqlite3_errmsg(db));
}

/// What the consumer saw of one change.
struct Seen {
  std::string event_id;  // the events table's id (the consumer's cursor)
  std::string uuid;      // stategate's event id
  std::string method;
  std::string key;

  friend bool operator==(const Seen&, const Seen&) = default;
};

/// The changes the consumer has seen, and a wait for one of them.
class Log {
 public:
  void fail() {
    std::lock_guard lock(mutex_);
    failed_ = true;
    changed_.notify_all();
  }
  void add(Seen seen) {
    std::lock_guard lock(mutex_);
    seen_.push_back(std::move(seen));
    changed_.notify_all();
  }
  /// True once the event `event_id` was seen; false when the consumer failed or after `timeout`.
  bool wait_for(const std::string& event_id, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    const auto there = [&] {
      return std::ranges::any_of(seen_, [&](const Seen& s) { return s.event_id == event_id; });
    };
    return changed_.wait_for(lock, timeout, [&] { return failed_ || there(); }) && there();
  }
  std::vector<Seen> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Seen> seen_;
  bool failed_ = false;
};

Seen seen_of(const rstate::EntityEvent& event) {
  return {event.event_id, event.id, event.method_name, event.entity.ref.key};
}

/// The entity's newest event (edit and revert return the entity, not their event).
rstate::EntityEvent newest_event(const rstate::Entities& entities, const rstate::EntityRef& ref) {
  auto events = entities.search_events({.domain = ref.domain,
                                        .type = ref.type,
                                        .key = ref.key,
                                        .sort = {.reverse = true},
                                        .limit = 1});
  if (events.empty()) throw std::runtime_error("no event of " + ref.key);
  return events.front();
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  const bool temporary = argc < 2;
  const fs::path path =
      temporary ? fs::temp_directory_path() / ("reflex-orders-" + std::to_string(getpid()) + ".db")
                : fs::absolute(argv[1]);

  struct Cleanup {  // a temporary database goes at exit, whatever the outcome
    fs::path path;
    ~Cleanup() {
      if (!path.empty())
        for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix);
    }
  } cleanup{temporary ? path : fs::path()};

  // [snippet:open]
  auto db = reflex::rsql::Database::open("sqlite://" + path.string());
  db->execute(rstate::entities_ddl(db->dialect()));  // or `reflexctl schema --entities`
  db->create_cursors_table();
  const rstate::Entities entities(db);  // tables "entities" and "entity_events"
  // [end snippet]
  auto cursors = std::make_shared<reflex::rsql::CursorsTable>(db);

  // [snippet:consumer]
  // The consumer: the events table is a reflex outbox, each event's metadata the change.
  Log log;
  const auto print = [&](const reflex::Event& e) {
    const auto change = nlohmann::json::parse(e.metadata);
    const auto& entity = change["entity"];
    std::cout << "  event " << e.id << ": " << change["method"].get<std::string>() << " "
              << entity["domain"].get<std::string>() << "/" << entity["type"].get<std::string>()
              << "/" << entity["key"].get<std::string>() << " " << entity["values"].dump() << " by "
              << change["claims"].dump() << std::endl;
    log.add({e.id, change["id"].get<std::string>(), change["method"].get<std::string>(),
             entity["key"].get<std::string>()});
  };
  reflex::Spec spec{.stream = entities.events().stream_func(),
                    .cursors = cursors,
                    .consumer = reflex::make_consumer("order-printer", print)};
  std::jthread follower([&](std::stop_token stop) {
    try {
      reflex::run(stop, spec);  // until stopped; a failed consumer stops it
    } catch (const std::exception& e) {
      std::cerr << "orders: the consumer stopped: " << e.what() << std::endl;
      log.fail();
    }
  });
  // [end snippet]

  std::vector<Seen> expected;  // this run's changes, in commit order
  try {
    // [snippet:changes]
    const rstate::EntityRef o1{.domain = "shop", .type = "order", .key = "o-1"};
    const rstate::EntityRef o2{.domain = "shop", .type = "order", .key = "o-2"};
    const rstate::Change by_checkout{.claims = R"({"sub":"checkout"})"};

    // Each change is one transaction of rstate's own: the order's row and its event.
    auto placed =
        entities.set(o1, R"({"status":"placed","total":30,"items":["book"]})", by_checkout);
    rstate::Entity paid = entities.edit(o1, R"({"status":"paid"})",  // merges the given keys
                                        {.expected_version = placed.entity.version});
    std::cout << "o-1 paid, version " << paid.version << ": " << paid.values << std::endl;
    try {  // the version moved on: a stale change writes nothing
      entities.edit(o1, R"({"status":"cancelled"})", {.expected_version = placed.entity.version});
    } catch (const rstate::VersionConflict& e) {
      std::cout << "stale edit refused: version " << e.actual() << ", not " << e.expected()
                << std::endl;
    }
    // [end snippet]
    expected.push_back(seen_of(placed));

    // [snippet:callers-transaction]
    // In the service's own transaction: its payments row, the order and its event commit
    // together, or none of them does.
    sqlite3* app = nullptr;
    if (sqlite3_open(path.c_str(), &app) != SQLITE_OK) throw std::runtime_error("cannot open");
    sqlite3_busy_timeout(app, 5000);  // rstate's and reflex's own connections share the file
    exec(app, "CREATE TABLE IF NOT EXISTS payments (order_key TEXT, amount INTEGER)");
    exec(app, "BEGIN IMMEDIATE");  // the write lock first: a read-then-write never meets BUSY
    exec(app, "INSERT INTO payments (order_key, amount) VALUES ('o-2', 12)");
    auto written = entities.set(app, o2, R"({"status":"paid","total":12,"items":["pen"]})",
                                {.claims = R"({"sub":"checkout"})", .expected_version = 0});
    exec(app, "COMMIT");
    written.notify();  // wake the events' streams now
    sqlite3_close(app);
    // [end snippet]

    // edit returns the entity, not its event: the event is o-1's newest in the history.
    expected.push_back(seen_of(newest_event(entities, o1)));
    expected.push_back(seen_of(written.event));

    // [snippet:read]
    // A cancelled order is deleted (its event keeps the last values); then the reads: the
    // current state, a search evaluated in SQL, and the history.
    auto cancelled = entities.del(o2);
    std::cout << "o-1 is " << entities.get(o1)->values << "; o-2 is "
              << (entities.get(o2) ? "there" : "gone") << std::endl;
    for (const auto& order :
         entities.search({.domain = "shop", .type = "order", .filter = R"({"status":"paid"})"}))
      std::cout << "paid: " << order.ref.key << " " << order.values << std::endl;
    for (const auto& event :
         entities.search_events({.domain = "shop", .type = "order", .key = "o-2"}))
      std::cout << "o-2 history: " << event.method_name << " " << event.entity.values << std::endl;
    // [end snippet]
    expected.push_back(seen_of(cancelled));

    // [snippet:revert]
    // Cancelled by mistake: back to the values its del event kept (itself a change, an event).
    rstate::Entity restored = entities.revert(o2, cancelled.id);
    std::cout << "o-2 restored at version " << restored.version << ": " << restored.values
              << std::endl;
    // [end snippet]
    expected.push_back(seen_of(newest_event(entities, o2)));
  } catch (const std::exception& e) {
    std::cerr << "orders: " << e.what() << std::endl;
    follower.request_stop();
    return 1;
  }

  // The check: every change of this run seen once, in commit order, within 30 s.
  const bool arrived = log.wait_for(expected.back().event_id, std::chrono::seconds(30));
  follower.request_stop();
  follower.join();
  auto seen = log.seen();
  std::erase_if(seen,
                [&](const Seen& s) { return std::ranges::find(expected, s) == expected.end(); });
  const bool ok = arrived && seen == expected;
  std::cout << (ok ? "the consumer saw each of the " + std::to_string(expected.size()) +
                         " changes once, in order"
                   : std::string("the consumer did not see each change once, in order"))
            << std::endl;
  return ok ? 0 : 1;
}
