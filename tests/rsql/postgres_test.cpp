// PostgreSQL specifics: connection errors, cross-process wake-ups, idle query rate, and cursors
// kept across a server outage.

#include "reflex/rsql/postgres.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <pqxx/pqxx>
#include <thread>

#include "backend.hpp"
#include "reflex/reflex.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/postgres.hpp"
#include "reflex_test/process.hpp"
#include "reflex_test/services.hpp"
#include "reflex_test/wait.hpp"

namespace reflex_test::rsql {
namespace {

using namespace std::chrono_literals;
using reflex_test::eventually;

/// An events table with metadata and an accounts table of the caller's, on the test server.
struct Accounts {
  std::string dsn = required_env("REFLEX_TEST_PG_DSN");
  std::shared_ptr<Database> db = Database::open(dsn);
  std::string events = unique_name("with_events");
  std::string accounts = unique_name("accounts");
  EventsTable table{db, EventsTableOptions{.schema = {.table = events}}};
  pqxx::connection conn{dsn};
  Accounts() {
    db->create_events_table({.table = events});
    db->execute("CREATE TABLE " + accounts + " (id bigint PRIMARY KEY, balance bigint, note text)");
  }
  std::vector<std::string> rows() {
    pqxx::work w(conn);
    std::vector<std::string> out;
    for (const auto& r :
         w.exec("SELECT id, balance, coalesce(note, 'NULL') FROM " + accounts + " ORDER BY id")) {
      out.push_back(r[0].as<std::string>() + ":" + r[1].as<std::string>() + ":" +
                    r[2].as<std::string>());
    }
    return out;
  }
};

TEST(Postgres, InsertWithCommitsTheChangeAndItsEventInOneStatementOrNeither) {
  Accounts a;
  {
    pqxx::work w(a.conn);
    (void)a.table.insert_with(w, "INSERT INTO " + a.accounts + " (id, balance) VALUES ($1, $2);",
                              {"7", "100"},
                              {.foreign_id = "7", .type = 1, .metadata = std::string("\0m", 2)});
    w.abort();
  }
  EXPECT_TRUE(a.rows().empty());
  EXPECT_TRUE(read_to_head(a.table).empty()) << "the event of an aborted change was kept";
  {
    pqxx::work w(a.conn);
    const auto notify = a.table.insert_with(
        w, "INSERT INTO " + a.accounts + " (id, balance) VALUES ($1, $2) -- opens it", {"7", "100"},
        {.foreign_id = "7", .type = 1, .metadata = std::string("\0m", 2)});
    w.commit();
    notify();
  }
  {
    // A NULL parameter, an UPDATE, a literal and a comment that look like parameters.
    pqxx::work w(a.conn);
    (void)a.table.insert_with(w,
                              "UPDATE " + a.accounts +
                                  " SET note = $1, balance = balance - length('$9') -- $8\n"
                                  " WHERE id = $2",
                              {std::nullopt, "7"}, {.foreign_id = "7", .type = 2});
    w.commit();
  }
  EXPECT_EQ(a.rows(), (std::vector<std::string>{"7:98:NULL"}));
  const auto events = read_to_head(a.table);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, 1);
  EXPECT_EQ(events[0].metadata, std::string("\0m", 2));
  EXPECT_EQ(events[1].type, 2);
  EXPECT_EQ(events[1].foreign_id, "7");
}

TEST(Postgres, ATableMadeByTheEarlierDdlKeepsWorkingAndTakesTheInlinedIdDefault) {
  // The DDL of reflex 0.1: a PL/pgSQL id default and a B-tree on the timestamp.
  const std::string dsn = required_env("REFLEX_TEST_PG_DSN");
  const auto db = Database::open(dsn);
  const std::string events = unique_name("old_events");
  db->execute("CREATE SEQUENCE " + events + "_id_seq CACHE 1;\nCREATE FUNCTION " + events +
              "_next_id() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $fn$ BEGIN PERFORM "
              "pg_current_xact_id(); RETURN nextval('" +
              events + "_id_seq'); END $fn$;\n" + "CREATE TABLE " + events +
              " (id bigint PRIMARY KEY DEFAULT " + events +
              "_next_id(), foreign_id text NOT NULL, type integer NOT NULL, timestamp timestamptz "
              "NOT NULL DEFAULT now(), metadata bytea, trace bytea);\nCREATE INDEX " +
              events + "_timestamp_idx ON " + events + " (timestamp)");
  db->execute("INSERT INTO " + events + " (foreign_id, type) VALUES ('old', 1)");
  db->create_events_table({.table = events});
  const EventsTable table(db, {.schema = {.table = events}});
  pqxx::connection conn(dsn);
  {
    pqxx::work w(conn);
    (void)table.insert(w, "new", 2);
    w.commit();
  }
  const auto got = read_to_head(table);
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[0].foreign_id, "old");
  EXPECT_EQ(got[1].foreign_id, "new");
  EXPECT_LT(got[0].id_int(), got[1].id_int());
  pqxx::nontransaction n(conn);
  EXPECT_EQ(n.exec1("SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang "
                    "WHERE p.proname = '" +
                    events + "_next_id'")[0]
                .as<std::string>(),
            "sql");
  EXPECT_EQ(n.exec1("SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE "
                    "c.relname = '" +
                    events + "_timestamp_idx'")[0]
                .as<std::string>(),
            "btree")
      << "an existing table keeps its index";
  // A new table's id default is inlined into the INSERT's plan: no function call per row.
  const std::string fresh = unique_name("new_events");
  db->create_events_table({.table = fresh});
  const auto plan =
      n.exec("EXPLAIN VERBOSE INSERT INTO " + fresh + " (foreign_id, type) VALUES ('x', 1)");
  std::string text;
  for (const auto& row : plan) text += row[0].as<std::string>() + "\n";
  EXPECT_NE(text.find("CASE WHEN (pg_current_xact_id() IS NOT NULL) THEN nextval("),
            std::string::npos)
      << text;
  EXPECT_EQ(n.exec1("SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE "
                    "c.relname = '" +
                    fresh + "_timestamp_idx'")[0]
                .as<std::string>(),
            "brin");
}

TEST(Postgres, InsertWithRefusesAStatementItCannotCarryAndRunsNothing) {
  Accounts a;
  pqxx::work w(a.conn);
  EXPECT_THROW((void)a.table.insert_with(w, "SELECT 1", {}, {.foreign_id = "1", .type = 1}),
               reflex::ConfigError);
  try {
    (void)a.table.insert_with(w, "INSERT INTO " + a.accounts + " (id, balance) VALUES ($1, $3)",
                              {"1", "2"}, {.foreign_id = "1", .type = 1});
    FAIL() << "a statement reaching for the event's parameters was run";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("$3"), std::string::npos) << e.what();
  }
  w.commit();  // nothing ran, so the transaction is still good
  EXPECT_TRUE(a.rows().empty());
  EXPECT_TRUE(read_to_head(a.table).empty());

  // A table missing from the caller's statement is theirs, not the events table.
  pqxx::work again(a.conn);
  try {
    (void)a.table.insert_with(again, "DELETE FROM no_such_accounts WHERE id = $1", {"1"},
                              {.foreign_id = "1", .type = 1});
    FAIL() << "a statement on a missing table ran";
  } catch (const reflex::rsql::SchemaError& e) {
    FAIL() << "blamed the events table: " << e.what();
  } catch (const reflex::rsql::DatabaseError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_accounts"), std::string::npos) << e.what();
  }
}

TEST(Postgres, AnUnreachableServerIsRetryableAndTheMessageHidesThePassword) {
  auto db = Database::open("postgresql://reflex:s3cret@127.0.0.1:1/reflex");
  try {
    db->ping();
    FAIL() << "expected Unavailable";
  } catch (const reflex::Unavailable& e) {
    EXPECT_TRUE(e.retryable());
    const std::string what = e.what();
    EXPECT_EQ(what.find("s3cret"), std::string::npos) << what;
    EXPECT_NE(what.find("127.0.0.1:1"), std::string::npos) << what;
  }
  EventsTable table(db);
  std::stop_source stop;
  auto stream = table.stream(stop.get_token(), "", reflex::StreamOptions{.to_head = true});
  EXPECT_THROW((void)stream->recv(), reflex::Unavailable);
}

TEST(Postgres, AnUnknownDatabaseIsAConfigErrorSayingSo) {
  auto dsn = reflex::parse_uri(required_env("REFLEX_TEST_PG_DSN"));
  auto db = Database::open("postgresql://" + dsn.user + "@" + dsn.host + ":" +
                           std::to_string(dsn.port.value_or(5432)) + "/no_such_database");
  try {
    db->ping();
    FAIL() << "expected ConfigError";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
    EXPECT_FALSE(e.retryable());
  }
}

TEST(Postgres, MalformedDsnsAreConfigErrors) {
  for (const char* bad : {"postgresql://", "postgresql://127.0.0.1", "postgres://h:5432/a/b",
                          "oracle://h/db", "postgresql://h/db?bad-option=1", "not a dsn"}) {
    EXPECT_THROW((void)Database::open(bad), reflex::ConfigError) << bad;
  }
}

TEST(Postgres, ACommitInAnotherProcessWakesStreamsWithinMilliseconds) {
  auto db = Database::open(required_env("REFLEX_TEST_PG_DSN"));
  const std::string name = unique_name("xproc");
  db->create_events_table({.table = name});
  // Polls so rare that only a NOTIFY can explain prompt delivery.
  EventsTable table(
      db, EventsTableOptions{
              .schema = {.table = name}, .poll_interval = 30s, .notified_poll_interval = 30s});
  constexpr int kEvents = 40;
  std::vector<std::chrono::microseconds> latencies;
  std::atomic<int> received{0};
  std::stop_source stop;
  auto stream = table.stream(stop.get_token(), "");
  std::jthread reader([&] {
    try {
      for (int i = 0; i < kEvents; ++i) {
        const auto e = stream->recv();
        latencies.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::system_clock::now() - e.timestamp));
        ++received;
      }
    } catch (const reflex::Canceled&) {
    }
  });
  EXPECT_TRUE(eventually([&] { return pg_listening(*db, name); })) << "the stream never LISTENed";
  const auto writer = run_process(
      {REFLEX_PG_WRITER, required_env("REFLEX_TEST_PG_DSN"), name, std::to_string(kEvents), "20"},
      {}, 30s);
  EXPECT_EQ(writer.status, 0) << writer.err;
  // The reader's vector is read here only after it stopped; its progress shows in `received`.
  (void)eventually([&] { return received == kEvents; }, 5s);  // asserted below
  stop.request_stop();
  reader.join();
  ASSERT_EQ(latencies.size(), static_cast<std::size_t>(kEvents));
  std::sort(latencies.begin(), latencies.end());
  const auto p50 = latencies[kEvents / 2];
  const auto p99 = latencies[kEvents * 99 / 100];
  RecordProperty("p50_us", static_cast<int>(p50.count()));
  RecordProperty("p99_us", static_cast<int>(p99.count()));
  // Timestamps are the writer's transaction start: latency includes its insert and commit.
  EXPECT_LT(p99, 200ms) << "p50 " << p50.count() << " us, p99 " << p99.count() << " us";
}

TEST(Postgres, StreamsWaitingAtTheHeadHoldNoConnectionOfTheirOwn) {
  // Every connection of this Database carries its own application_name, so other tests running
  // beside this one do not count.
  const std::string app = unique_name("heads");
  const std::string dsn = required_env("REFLEX_TEST_PG_DSN");
  auto db = Database::open(dsn + "?application_name=" + app);
  const std::string name = unique_name("heads");
  db->create_events_table({.table = name});
  // A cache of 10 events and 50 in the table: each stream catches up on reads of its own before
  // it reaches the head.
  const EventsTable table(
      db, EventsTableOptions{.schema = {.table = name}, .batch_size = 10, .cache_size = 10});
  std::vector<NewEvent> some;
  for (int i = 0; i < 50; ++i) some.push_back({.foreign_id = std::to_string(i), .type = 1});
  table.publish(some);
  pqxx::connection check(dsn);
  const auto connections = [&] {
    pqxx::nontransaction tx(check);
    return tx
        .exec("SELECT count(*) FROM pg_stat_activity WHERE application_name = " +
              tx.quote(app))[0][0]
        .as<int>();
  };
  constexpr int kStreams = 24;
  std::vector<std::unique_ptr<Follower>> followers;
  // One after the other, so that each catches up alone (no reads shared with another).
  for (int i = 0; i < kStreams; ++i) {
    followers.push_back(std::make_unique<Follower>(table));
    (void)followers.back()->wait_for(50);
    ASSERT_EQ(followers.back()->got().size(), 50u);
  }
  const NewEvent more[] = {{.foreign_id = "last", .type = 1}};
  table.publish(more);
  for (auto& f : followers) {
    (void)f->wait_for(51);
    ASSERT_EQ(f->got().size(), 51u);
    EXPECT_EQ(f->got().front(), "0");
    EXPECT_EQ(f->got().back(), "last");
  }
  // Each stream read its way to the head on a borrowed session and gave it back; the table keeps
  // a few idle, its head reader one, its LISTEN and NOTIFY one each.
  EXPECT_TRUE(eventually([&] { return connections() <= 7; }, 3s))
      << connections() << " connections for " << kStreams << " streams at the head";
}

TEST(Postgres, IdleStreamsWithNotifyQueryAboutOncePerSecond) {
  auto db = Database::open(required_env("REFLEX_TEST_PG_DSN"));
  const std::string name = unique_name("idle");
  db->create_events_table({.table = name});
  auto recorder = std::make_shared<TableRecorder>();
  EventsTable table(db, EventsTableOptions{.schema = {.table = name}, .metrics = recorder});
  std::stop_source stop;
  std::vector<std::jthread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      auto stream = table.stream(stop.get_token(), "");
      try {
        (void)stream->recv();
      } catch (const reflex::Canceled&) {
      }
    });
  }
  // The idle backoff doubles up to its interval; 400 ms between polls means LISTEN is in effect
  // (without it the interval is poll_interval, 100 ms) and the backoff almost at 1 s.
  EXPECT_TRUE(eventually([&] { return recorder->get().last_poll_gap() >= 400ms; }))
      << "the idle backoff never grew past 100 ms: no LISTEN?";
  const int before = recorder->get().polls.load();
  std::this_thread::sleep_for(3s);  // the window whose queries are counted
  const int polls = recorder->get().polls.load() - before;
  EXPECT_LE(polls, 5) << polls << " queries in 3 s by 4 idle streams";
  stop.request_stop();
}

TEST(Postgres, TheLastCommitOfABurstStillWakesOtherProcessesPromptly) {
  // Writer and reader are separate table objects, so the reader is woken only by NOTIFY, as a
  // reader in another process is. A burst makes the sender space its NOTIFYs; the last commit
  // of the burst must still be announced, not left to the 1 s safety poll.
  const std::string dsn = required_env("REFLEX_TEST_PG_DSN");
  auto db = Database::open(dsn);
  const std::string name = unique_name("burst");
  db->create_events_table({.table = name});
  const EventsTable writer(db, EventsTableOptions{.schema = {.table = name}});
  auto recorder = std::make_shared<TableRecorder>();
  const EventsTable reader(Database::open(dsn),
                           EventsTableOptions{.schema = {.table = name}, .metrics = recorder});
  Follower follower(reader);
  // The reader is idle at the head, LISTENing: 400 ms between its polls takes a LISTEN in effect
  // (see IdleStreamsWithNotifyQueryAboutOncePerSecond), and its next poll is >= 800 ms away, so
  // only a NOTIFY delivers the first burst within 300 ms.
  ASSERT_TRUE(eventually([&] { return recorder->get().last_poll_gap() >= 400ms; }))
      << "the reader's idle backoff never grew past 100 ms: no LISTEN?";
  constexpr int kRounds = 3;
  for (int round = 0; round < kRounds; ++round) {
    const std::size_t target = (round + 1) * 200;
    for (int i = 0; i < 200; ++i) {
      writer.publish(
          std::vector<reflex::rsql::NewEvent>{{.foreign_id = std::to_string(i), .type = 1}});
    }
    const auto took = follower.wait_for(target);
    ASSERT_EQ(follower.got().size(), target);
    EXPECT_LT(took, 300ms) << "round " << round << ": the burst's last commit waited for a poll";
    // Idle again, for longer than the 1 s safety poll: the next burst starts from quiet, where
    // only a NOTIFY is prompt. (After the last round there is none to wait for.)
    if (round + 1 < kRounds) std::this_thread::sleep_for(1200ms);
  }
}

/// A session that LISTENs on a table's channel the way a foreign program would, without
/// announcing itself to reflex's senders: it counts the NOTIFYs sent, and wakes nobody.
class NotifySpy {
 public:
  NotifySpy(const std::string& dsn, const std::string& table)
      : conn_(dsn), receiver_(conn_, pg_channel(table), count_) {
    conn_.get_notifs();
  }
  /// The NOTIFYs that arrived until now plus `settle`.
  int count(std::chrono::milliseconds settle) {
    (void)conn_.get_notifs();  // those already received
    const auto until = std::chrono::steady_clock::now() + settle;
    for (auto now = std::chrono::steady_clock::now(); now < until;
         now = std::chrono::steady_clock::now()) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(until - now).count();
      (void)conn_.await_notification(static_cast<long>(us / 1000000),
                                     static_cast<long>(us % 1000000));
    }
    return count_;
  }
  /// Sessions idle after announcing themselves as listeners of `table` to senders.
  int listeners(const std::string& table) {
    pqxx::nontransaction tx(conn_);
    return tx
        .exec("SELECT count(*) FROM pg_stat_activity WHERE " + pg_listener_condition(table))[0][0]
        .as<int>();
  }

 private:
  class Counter final : public pqxx::notification_receiver {
   public:
    Counter(pqxx::connection_base& conn, const std::string& channel, int& count)
        : pqxx::notification_receiver(conn, channel), count_(count) {}
    void operator()(const std::string&, int) override { ++count_; }

   private:
    int& count_;
  };
  int count_ = 0;
  pqxx::connection conn_;
  Counter receiver_;
};

TEST(Postgres,
     ProducersSendNoNotifyUntilAnotherTableObjectListensAndAtOnceWhenOneComesOrComesBack) {
  const std::string dsn = required_env("REFLEX_TEST_PG_DSN");
  auto db = Database::open(dsn);
  const std::string name = unique_name("nolistener");
  db->create_events_table({.table = name});
  NotifySpy spy(dsn, name);
  // The writer's own stream is woken in-process: its LISTEN is no reason for a NOTIFY.
  const EventsTable writer(db, EventsTableOptions{.schema = {.table = name}});
  Follower own(writer);
  ASSERT_TRUE(eventually([&] { return spy.listeners(name) == 1; })) << "the writer never LISTENed";
  for (int i = 0; i < 20; ++i) {
    writer.publish(std::vector<NewEvent>{{.foreign_id = "alone" + std::to_string(i), .type = 1}});
  }
  (void)own.wait_for(20);
  ASSERT_EQ(own.got().size(), 20u);
  EXPECT_EQ(spy.count(300ms), 0) << "NOTIFYs sent while only the writer's own stream listened";

  // Another table object (as another process's) begins to listen. It polls every 30 s, so only a
  // NOTIFY delivers the next commit within a second.
  auto recorder = std::make_shared<TableRecorder>();
  auto reader = std::make_unique<EventsTable>(Database::open(dsn),
                                              EventsTableOptions{.schema = {.table = name},
                                                                 .poll_interval = 30s,
                                                                 .notified_poll_interval = 30s,
                                                                 .metrics = recorder});
  auto follower = std::make_unique<Follower>(*reader);
  ASSERT_TRUE(eventually([&] { return spy.listeners(name) == 2; })) << "the reader never LISTENed";
  (void)follower->wait_for(20);
  ASSERT_EQ(follower->got().size(), 20u);
  writer.publish(std::vector<NewEvent>{{.foreign_id = "heard", .type = 1}});
  const auto took = follower->wait_for(21);
  ASSERT_EQ(follower->got().size(), 21u);
  EXPECT_EQ(follower->got().back(), "heard");
  EXPECT_LT(took, 1s) << "the commit after a listener came waited for a poll";
  EXPECT_GE(spy.count(200ms), 1) << "the reader was woken, but not by a NOTIFY?";

  // The reader goes away; once the writer's sender checks again (at most a second after its last
  // check), it stops sending.
  follower.reset();
  reader.reset();
  ASSERT_TRUE(eventually([&] { return spy.listeners(name) == 1; })) << "the reader never left";
  std::this_thread::sleep_for(1100ms);
  const int before = spy.count(0ms);
  for (int i = 0; i < 10; ++i) {
    writer.publish(std::vector<NewEvent>{{.foreign_id = "left" + std::to_string(i), .type = 1}});
    std::this_thread::sleep_for(20ms);
  }
  (void)own.wait_for(31);
  EXPECT_EQ(own.got().size(), 31u);
  EXPECT_LE(spy.count(300ms) - before, 1) << "NOTIFYs went on after the last listener left";

  // While the reader listened, the sender did not listen for words (every NOTIFY in the database
  // would have woken it); once alone again it does: a reader that comes back is heard at once.
  auto again = std::make_unique<EventsTable>(
      Database::open(dsn),
      EventsTableOptions{
          .schema = {.table = name}, .poll_interval = 30s, .notified_poll_interval = 30s});
  Follower back(*again);
  ASSERT_TRUE(eventually([&] { return spy.listeners(name) == 2; })) << "no reader came back";
  (void)back.wait_for(31);
  ASSERT_EQ(back.got().size(), 31u);
  writer.publish(std::vector<NewEvent>{{.foreign_id = "back", .type = 1}});
  EXPECT_LT(back.wait_for(32), 1s) << "a reader that came back waited for a poll";
  ASSERT_EQ(back.got().size(), 32u);
  EXPECT_EQ(back.got().back(), "back");
}

TEST(Postgres, AFlushDuringAnOutageKeepsTheCursorForTheFlushAfterIt) {
  // A server of this test's own: it is stopped and started.
  OwnServices server("postgres");
  const std::string dsn = server.env("REFLEX_TEST_PG_DSN");
  ASSERT_FALSE(dsn.empty()) << "no REFLEX_TEST_PG_DSN in the services env file";
  auto db = Database::open(dsn);
  db->create_cursors_table({.table = "outage_cursors"});
  reflex::rsql::CursorsTable cursors(db, {.schema = {.table = "outage_cursors"}});
  cursors.set("billing", "10");
  cursors.flush();
  cursors.set("billing", "42");

  server.stop();
  try {
    cursors.flush();
    FAIL() << "a flush with the server down succeeded";
  } catch (const reflex::Error& e) {
    EXPECT_TRUE(e.retryable()) << e.what();
  }
  EXPECT_EQ(cursors.pending(), std::vector<std::string>{"billing"});
  EXPECT_EQ(cursors.get("billing"), "42");

  server.start();
  ASSERT_EQ(server.env("REFLEX_TEST_PG_DSN"), dsn) << "the restarted server is on another port";
  cursors.flush();
  EXPECT_TRUE(cursors.pending().empty());
  reflex::rsql::CursorsTable fresh(db, {.schema = {.table = "outage_cursors"}});
  EXPECT_EQ(fresh.get("billing"), "42");
}

}  // namespace
}  // namespace reflex_test::rsql
