// P1–P5: a producer's business transaction with and without the outbox insert.
#include <cppconn/prepared_statement.h>
#include <cppconn/statement.h>
#include <mysql_driver.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <tuple>

#include "reflex/rsql/mysql.hpp"
#include "reflex/rsql/postgres.hpp"
#include "reflex/rsql/rsql.hpp"
#include "reflex/uri.hpp"
#include "scenarios.hpp"

namespace bench {
namespace {

using reflex::rsql::Database;
using reflex::rsql::EventsTable;
using reflex::rsql::NewEvent;

constexpr const char* kUsers = "bench_users";
constexpr const char* kEvents = "bench_events";

void setup_pg(const std::string& dsn) {
  pqxx::connection c(dsn);
  pqxx::work w(c);
  w.exec0(std::string("CREATE TABLE IF NOT EXISTS ") + kUsers +
          " (id bigserial PRIMARY KEY, name text NOT NULL, email text NOT NULL)");
  w.commit();
  Database::open(dsn)->create_events_table({.table = kEvents});
}

/// A client connection of P1–P4, with the business statement prepared.
struct PgClient {
  explicit PgClient(const std::string& dsn, bool async_commit) : conn(dsn) {
    if (async_commit) pqxx::nontransaction(conn).exec0("SET synchronous_commit = off");
    conn.prepare("user", std::string("INSERT INTO ") + kUsers + " (name, email) VALUES ($1, $2)");
    conn.prepare("event",
                 std::string("INSERT INTO ") + kEvents + " (foreign_id, type) VALUES ($1, $2)");
  }
  pqxx::connection conn;
  std::uint64_t n = 0;
};

struct PgClients {
  PgClients(const std::string& dsn, int count, bool async_commit) {
    for (int i = 0; i < count; ++i)
      clients.push_back(std::make_unique<PgClient>(dsn, async_commit));
  }
  std::vector<std::unique_ptr<PgClient>> clients;
};

/// What a P1 transaction writes besides the business row: nothing (raw), the event through a
/// hand-written prepared INSERT (what a second statement costs), or the event through reflex:
/// riding on the business statement (insert_with, one round trip) or as its own (insert).
enum class Outbox { none, handwritten, reflex, reflex_insert };

constexpr const char* kUserInsert = "INSERT INTO bench_users (name, email) VALUES ($1, $2)";

double pg_business(PgClients& pool, std::chrono::milliseconds window, const EventsTable* events,
                   Outbox outbox = Outbox::reflex) {
  if (!events) outbox = Outbox::none;
  return throughput(static_cast<int>(pool.clients.size()), window, [&](int t) -> std::uint64_t {
    auto& c = *pool.clients[static_cast<std::size_t>(t)];
    const std::string id = std::to_string(++c.n);
    pqxx::work w(c.conn);
    if (outbox == Outbox::reflex) {
      const auto notify = events->insert_with(w, kUserInsert, {"user-" + id, id + "@example.org"},
                                              NewEvent{.foreign_id = id, .type = 1});
      w.commit();
      notify();
      return 1;
    }
    w.exec_prepared("user", "user-" + id, id + "@example.org");
    if (outbox == Outbox::handwritten) {
      w.exec_prepared("event", id, 1);
      w.commit();
    } else if (outbox == Outbox::reflex_insert) {
      const auto notify = events->insert(w, NewEvent{.foreign_id = id, .type = 1});
      w.commit();
      notify();
    } else {
      w.commit();
    }
    return 1;
  });
}

/// What reflex should reach of the hand-written INSERT: the event row is the same, so all reflex
/// may add is its own client-side work.
constexpr double kOfFloorGoal = 0.97;

/// Sets the row's goal to both bounds: `goal` against raw, kOfFloorGoal against the floor.
void floor_goal(Row& row, double goal) {
  char text[48];
  std::snprintf(text, sizeof text, "≥%.2f, /floor ≥%.2f", goal, kOfFloorGoal);
  row.goal = text;
  row.met = row.ratio->median >= goal && row.of_floor->median >= kOfFloorGoal;
}

/// A P1/P2 row against both baselines: the business transaction without the event (raw) and with
/// a hand-written prepared INSERT of the event row (the floor: what the row itself costs), reflex
/// being insert_with; reflex's insert() (the event as a second statement) in the note.
Row business_row(const Config& cfg, PgClients& pool, const EventsTable& events, const char* id,
                 const std::string& name, double goal) {
  const auto round = cfg.short_window();
  const auto measured =
      compare(cfg,
              {[&] { return pg_business(pool, round, nullptr); },
               [&] { return pg_business(pool, round, &events); },
               [&] { return pg_business(pool, round, &events, Outbox::handwritten); },
               [&] { return pg_business(pool, round, &events, Outbox::reflex_insert); }},
              cfg.short_rounds());
  auto row = ratio_row(id, name, "tx/s", measured, goal);
  add_floor(row, measured, 2);
  floor_goal(row, goal);
  char note[128];
  std::snprintf(note, sizeof note, "insert_with; insert() %.3f of raw, %.3f of the floor",
                measured.ratio(3).median, measured.ratio(3, 2).median);
  row.note = note;
  return row;
}

void p1_p2_p3(const Config& cfg, std::vector<Row>& rows) {
  setup_pg(cfg.pg_dsn);
  const auto db = Database::open(cfg.pg_dsn);
  const EventsTable notified(db, {.schema = {.table = kEvents}});
  const EventsTable quiet(db, {.schema = {.table = kEvents}, .cross_process_notify = false});
  for (const int clients : {1, 8}) {
    if (!cfg.wants("P1")) break;
    log("P1 " + std::to_string(clients) + " client(s)");
    PgClients pool(cfg.pg_dsn, clients, false);
    rows.push_back(business_row(cfg, pool, notified, "P1",
                                "PG tx: business row + event, sync commit, " +
                                    std::to_string(clients) +
                                    (clients == 1 ? " client" : " clients"),
                                clients == 1 ? 0.90 : 0.85));
  }
  if (cfg.wants("P2")) {
    log("P2");
    PgClients pool(cfg.pg_dsn, 1, true);
    rows.push_back(business_row(cfg, pool, notified, "P2",
                                "PG tx: business row + event, synchronous_commit=off", 0.85));
  }
  if (cfg.wants("P3")) {
    log("P3");
    PgClients pool(cfg.pg_dsn, 8, false);
    // P3 compares two reflex runs: notify off is its baseline.
    const auto round = cfg.short_window();
    const auto measured = compare(cfg,
                                  {[&] { return pg_business(pool, round, &quiet); },
                                   [&] { return pg_business(pool, round, &notified); }},
                                  cfg.short_rounds());
    auto row = ratio_row("P3", "P1 at 8 clients, cross-process notify on (raw: notify off)", "tx/s",
                         measured, 0.95);
    row.goal = "drop ≤ 5 pts";
    rows.push_back(row);
  }
}

/// The raw baseline of P4 and P6: `events` by a bare COPY in one committed transaction.
std::uint64_t copy_rows(pqxx::connection& conn, const std::vector<NewEvent>& events) {
  pqxx::work w(conn);
  pqxx::stream_to out(w, kEvents, std::vector<std::string>{"foreign_id", "type"});
  for (const auto& e : events) out << std::make_tuple(e.foreign_id.str(), e.type);
  out.complete();
  w.commit();
  return events.size();
}

void p4(const Config& cfg, std::vector<Row>& rows) {
  if (!cfg.wants("P4")) return;
  log("P4");
  setup_pg(cfg.pg_dsn);
  const EventsTable events(Database::open(cfg.pg_dsn), {.schema = {.table = kEvents}});
  pqxx::connection conn(cfg.pg_dsn);
  std::vector<NewEvent> batch;
  for (int i = 0; i < 100; ++i)
    batch.push_back(NewEvent{.foreign_id = "order-" + std::to_string(i), .type = 2});
  const auto copy = [&] {
    return throughput(1, cfg.short_window(),
                      [&](int) -> std::uint64_t { return copy_rows(conn, batch); });
  };
  const auto reflex = [&] {
    return throughput(1, cfg.short_window(), [&](int) -> std::uint64_t {
      pqxx::work w(conn);
      const auto notify = events.insert_batch(w, batch);
      w.commit();
      notify();
      return 100;
    });
  };
  rows.push_back(ratio_row("P4", "batch insert, 100 events per tx (raw: COPY of the same rows)",
                           "events/s", compare(cfg, {copy, reflex}, cfg.short_rounds()), 0.80));
}

// P6: what `reflexctl publish --batch` and scripts do: events.publish() of a large batch in a
// transaction of reflex's own, against a bare COPY of the same rows on one connection.
void p6(const Config& cfg, std::vector<Row>& rows) {
  if (!cfg.wants("P6")) return;
  log("P6");
  setup_pg(cfg.pg_dsn);
  const EventsTable events(Database::open(cfg.pg_dsn), {.schema = {.table = kEvents}});
  pqxx::connection conn(cfg.pg_dsn);
  constexpr int kBatch = 50'000;
  std::vector<NewEvent> batch;
  for (int i = 0; i < kBatch; ++i)
    batch.push_back(NewEvent{.foreign_id = "order-" + std::to_string(i), .type = 2});
  // A round is one or two batches (each 0.1-0.4 s): as many rounds as the budget allows, since
  // a batch's commit waits on the disk and a round's ratio is two batches' times.
  const auto round = cfg.window() / 2;
  const auto copy = [&] {
    return throughput(1, round, [&](int) -> std::uint64_t { return copy_rows(conn, batch); });
  };
  const auto reflex = [&] {
    return throughput(1, round, [&](int) -> std::uint64_t {
      events.publish(batch);
      return kBatch;
    });
  };
  rows.push_back(ratio_row("P6", "publish() of 50,000 events (raw: COPY of the same rows)",
                           "events/s", compare(cfg, {copy, reflex}, cfg.short_rounds()), 0.80));
}

void p5(const Config& cfg, std::vector<Row>& rows) {
  if (!cfg.wants("P5")) return;
  log("P5");
  auto conn = reflex::rsql::connect_mysql(cfg.mysql_dsn);
  {
    std::unique_ptr<sql::Statement> st(conn->createStatement());
    st->execute(std::string("CREATE TABLE IF NOT EXISTS ") + kUsers +
                " (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(255) NOT NULL, email "
                "VARCHAR(255) NOT NULL) ENGINE=InnoDB");
  }
  Database::open(cfg.mysql_dsn)->create_events_table({.table = kEvents});
  const EventsTable events(Database::open(cfg.mysql_dsn), {.schema = {.table = kEvents}});
  conn->setAutoCommit(false);
  std::unique_ptr<sql::PreparedStatement> user(conn->prepareStatement(
      std::string("INSERT INTO ") + kUsers + " (name, email) VALUES (?, ?)"));
  std::unique_ptr<sql::PreparedStatement> event(conn->prepareStatement(
      std::string("INSERT INTO ") + kEvents + " (foreign_id, type) VALUES (?, ?)"));
  std::uint64_t n = 0;
  const auto handwritten = [&] {
    return throughput(1, cfg.short_window(), [&](int) -> std::uint64_t {
      const std::string id = std::to_string(++n);
      user->setString(1, "user-" + id);
      user->setString(2, id + "@example.org");
      user->executeUpdate();
      event->setString(1, id);
      event->setInt(2, 1);
      event->executeUpdate();
      conn->commit();
      return 1;
    });
  };
  reflex::rsql::MySqlInserter inserter(events, *conn);
  enum class Via { none, inserter, insert };
  const auto run = [&](Via via) {
    return throughput(1, cfg.short_window(), [&](int) -> std::uint64_t {
      const std::string id = std::to_string(++n);
      user->setString(1, "user-" + id);
      user->setString(2, id + "@example.org");
      user->executeUpdate();
      if (via == Via::none) {
        conn->commit();
        return 1;
      }
      const NewEvent event{.foreign_id = id, .type = 1};
      const auto notify =
          via == Via::inserter ? inserter.insert(event) : events.insert(*conn, event);
      conn->commit();
      notify();
      return 1;
    });
  };
  const auto measured = compare(cfg,
                                {[&] { return run(Via::none); }, [&] { return run(Via::inserter); },
                                 handwritten, [&] { return run(Via::insert); }},
                                cfg.short_rounds());
  auto row = ratio_row("P5", "MariaDB tx: business row + event", "tx/s", measured, 0.90);
  add_floor(row, measured, 2);
  floor_goal(row, 0.90);
  char note[128];
  std::snprintf(note, sizeof note, "MySqlInserter; insert() %.3f of raw, %.3f of the floor",
                measured.ratio(3).median, measured.ratio(3, 2).median);
  row.note = note;
  rows.push_back(row);
}

}  // namespace

void producer_scenarios(const Config& config, std::vector<Row>& rows) {
  p1_p2_p3(config, rows);
  p4(config, rows);
  p5(config, rows);
  p6(config, rows);
}

}  // namespace bench
