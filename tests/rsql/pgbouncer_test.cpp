// PostgreSQL through PgBouncer in transaction pool mode (REFLEX_TEST_PGBOUNCER_DSN, started by
// scripts/services in front of the test server): a pooler nobody told reflex about is refused by
// name, wake-ups still cross between direct and pooled processes, and what reflex sets on a
// session never stays behind on a pooled server session.

#include <gtest/gtest.h>

#include <algorithm>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "backend.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/postgres.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/postgres.hpp"
#include "reflex_test/wait.hpp"

namespace reflex_test::rsql {
namespace {

using namespace std::chrono_literals;
using reflex::ConfigError;
using reflex_test::eventually;

std::string pooled_dsn() {
  return required_env("REFLEX_TEST_PGBOUNCER_DSN");
}
std::string direct_dsn() {
  return required_env("REFLEX_TEST_PG_DSN");
}

/// The message of the ConfigError `fn` throws, or "" (and a test failure) when it throws none.
template <class Fn>
std::string config_error_of(Fn&& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return "";
}

TEST(PgBouncer, ADsnThatReachesThePoolerWithoutPoolModeIsRefusedNamingTheParameter) {
  auto db = Database::open(pooled_dsn());
  const std::string message = config_error_of([&] { db->ping(); });
  EXPECT_NE(message.find("connection pooler"), std::string::npos) << message;
  EXPECT_NE(message.find("?pool_mode=transaction"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;

  // A stream on it fails with the same error rather than reading anything.
  const std::string name = unique_name("unpooled");
  Database::open(direct_dsn())->create_events_table({.table = name});
  const EventsTable table(db, EventsTableOptions{.schema = {.table = name}});
  std::stop_source stop;
  EXPECT_NE(
      config_error_of([&] { (void)table.stream(stop.get_token(), "")->recv(); }).find("pool_mode"),
      std::string::npos);
}

TEST(PgBouncer, TheServerItselfIsNotMistakenForAPooler) {
  EXPECT_NO_THROW(Database::open(direct_dsn())->ping());
}

TEST(PgBouncer, ATransactionPoolerDeclaredAsASessionPoolerFailsWithTheHintNotAWrongResult) {
  // reflex takes `session` at its word and prepares by name; the pooler lends another server
  // session to a later statement, where the name is missing (names are unique to a session of
  // reflex, never another's statement): the hint, every time.
  const std::string name = unique_name("misdeclared");
  Database::open(direct_dsn())->create_events_table({.table = name});
  // Without the cross-process notifier, whose own session through the pooler would change which
  // server session the pooler lends next.
  const EventsTable table(
      Database::open(pooled_dsn() + "?pool_mode=session"),
      EventsTableOptions{.schema = {.table = name}, .cross_process_notify = false});
  pqxx::connection other(pooled_dsn());
  std::string message;
  const auto publish = [&](int i) {
    try {
      table.publish(std::vector<NewEvent>{{.foreign_id = std::to_string(i), .type = 1}});
    } catch (const ConfigError& e) {
      message = e.what();
    }
  };
  for (int i = 0; i < 20 && message.empty(); ++i) {
    publish(2 * i);           // prepared on a server session, which goes back to the pool last
    pqxx::work holds(other);  // takes that session: the pooler lends the most recent first
    (void)holds.exec("SELECT 1");
    publish(2 * i + 1);  // on another server session
  }
  EXPECT_NE(message.find("pool_mode=transaction"), std::string::npos) << message;
}

TEST(PgBouncer, AnUnknownPoolModeIsAConfigErrorThatListsTheChoices) {
  const std::string message =
      config_error_of([&] { (void)Database::open(pooled_dsn() + "?pool_mode=statement"); });
  EXPECT_NE(message.find("direct, session"), std::string::npos) << message;
}

TEST(PgBouncer, ACallersPooledTransactionUnderADirectDsnFailsWithTheHintAndWritesNothing) {
  // reflex told the server is direct, the producer's own connection through the pooler: the
  // insert is prepared by name in one transaction's server session and missing in the next's.
  const std::string name = unique_name("misnamed");
  auto db = Database::open(direct_dsn());
  db->create_events_table({.table = name});
  const EventsTable table(db, EventsTableOptions{.schema = {.table = name}});
  pqxx::connection producer(pooled_dsn());
  pqxx::connection other(pooled_dsn());
  {
    pqxx::work tx(producer);
    (void)table.insert(tx, {.foreign_id = "first", .type = 1});
    tx.commit();
  }
  // PgBouncer lends the most recently used idle server session first: `other` takes the one
  // that holds the prepared insert, and the producer's next transaction gets another.
  pqxx::work holds(other);
  (void)holds.exec("SELECT 1");
  std::string message;
  {
    pqxx::work tx(producer);
    message = config_error_of([&] { (void)table.insert(tx, {.foreign_id = "second", .type = 1}); });
  }
  EXPECT_NE(message.find("pool_mode=transaction"), std::string::npos) << message;
  holds.abort();
  pqxx::nontransaction check(producer);
  EXPECT_EQ(check.exec("SELECT foreign_id FROM " + name + " ORDER BY id").size(), 1u)
      << "only the first, committed event is in the table";
}

TEST(PgBouncer, InsertWithAndInsertAcrossLentServerSessionsCommitEveryEventOnce) {
  // Two producer connections whose transactions overlap, so PgBouncer lends each transaction
  // another server session than its connection's last: a statement prepared by name would be
  // missing there.
  const std::string name = unique_name("pooled_with");
  const std::string accounts = unique_name("pooled_accounts");
  auto pooled = Database::open(pooled_dsn() + "?pool_mode=transaction");
  pooled->create_events_table({.table = name});
  pooled->execute("CREATE TABLE " + accounts + " (id bigint PRIMARY KEY)");
  const EventsTable table(pooled, EventsTableOptions{.schema = {.table = name}});
  pqxx::connection a(pooled_dsn());
  pqxx::connection b(pooled_dsn());
  std::vector<std::string> want;
  for (int i = 0; i < 10; ++i) {
    pqxx::work first(i % 2 ? a : b);
    pqxx::work second(i % 2 ? b : a);
    const std::string with = std::to_string(2 * i);
    const std::string plain = std::to_string(2 * i + 1);
    (void)table.insert_with(first, "INSERT INTO " + accounts + " (id) VALUES ($1)", {with},
                            {.foreign_id = with, .type = 1});
    (void)table.insert(second, {.foreign_id = plain, .type = 2});
    first.commit();
    second.commit();
    want.push_back(with);
    want.push_back(plain);
  }
  std::vector<std::string> got;
  for (const auto& e : read_to_head(table)) got.push_back(e.foreign_id);
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  pqxx::nontransaction check(a);
  EXPECT_EQ(check.exec("SELECT id FROM " + accounts).size(), 10u);
}

TEST(PgBouncer, ACommitThroughThePoolerWakesAStreamListeningOnTheServer) {
  const std::string name = unique_name("pooled_wake");
  auto direct = Database::open(direct_dsn());
  direct->create_events_table({.table = name});
  auto recorder = std::make_shared<TableRecorder>();
  const EventsTable reader(direct,
                           EventsTableOptions{.schema = {.table = name}, .metrics = recorder});
  Follower follower(reader);
  ASSERT_TRUE(eventually([&] { return pg_listening(*direct, name); }));
  // Idle at the head with LISTEN in effect: its next poll is ~1 s away, only a NOTIFY is prompt.
  ASSERT_TRUE(eventually([&] { return recorder->get().last_poll_gap() >= 400ms; }));
  const EventsTable writer(Database::open(pooled_dsn() + "?pool_mode=transaction"),
                           EventsTableOptions{.schema = {.table = name}});
  writer.publish(std::vector<NewEvent>{{.foreign_id = "pooled", .type = 1}});
  const auto took = follower.wait_for(1);
  ASSERT_EQ(follower.got(), std::vector<std::string>{"pooled"});
  EXPECT_LT(took, 400ms) << "the pooled producer's NOTIFY did not wake the listening stream";
}

TEST(PgBouncer, AStreamThroughThePoolerPollsAtItsShortIntervalAndSeesOtherCommits) {
  const std::string name = unique_name("pooled_poll");
  auto pooled = Database::open(pooled_dsn() + "?pool_mode=transaction");
  pooled->create_events_table({.table = name});
  auto recorder = std::make_shared<TableRecorder>();
  const EventsTable reader(pooled,
                           EventsTableOptions{.schema = {.table = name}, .metrics = recorder});
  Follower follower(reader);
  // No LISTEN to count on: the idle backoff stops at poll_interval (100 ms), not at 1 s.
  std::this_thread::sleep_for(1500ms);
  EXPECT_LT(recorder->get().last_poll_gap(), 400ms);
  // Another table object, as another process: no in-process wake-up reaches the reader.
  const EventsTable writer(Database::open(direct_dsn()),
                           EventsTableOptions{.schema = {.table = name}});
  writer.publish(std::vector<NewEvent>{{.foreign_id = "polled", .type = 1}});
  const auto took = follower.wait_for(1);
  ASSERT_EQ(follower.got(), std::vector<std::string>{"polled"});
  EXPECT_LT(took, 400ms);
}

TEST(PgBouncer, NothingReflexSetsStaysOnAPooledServerSession) {
  // Gap probes (holes left by rollbacks) and NOTIFYs make reflex's commits asynchronous; that
  // must end with their own transactions, not stay on the server sessions PgBouncer lends next.
  const std::string name = unique_name("pooled_settings");
  auto pooled = Database::open(pooled_dsn() + "?pool_mode=transaction");
  pooled->create_events_table({.table = name});
  const EventsTable table(pooled, EventsTableOptions{.schema = {.table = name}});
  auto backend = make_backend();
  for (int i = 0; i < 5; ++i) {
    auto rolled_back = backend->producer();
    rolled_back->begin();
    (void)rolled_back->insert(table, {.foreign_id = "hole", .type = 1});
    rolled_back->rollback();
    table.publish(std::vector<NewEvent>{{.foreign_id = std::to_string(i), .type = 1}});
  }
  EXPECT_EQ(read_to_head(table).size(), 5u);
  // The most recently used server sessions are lent first: the ones reflex just used.
  std::vector<std::unique_ptr<pqxx::connection>> conns;
  std::vector<std::unique_ptr<pqxx::work>> txs;
  for (int i = 0; i < 8; ++i) {
    conns.push_back(std::make_unique<pqxx::connection>(pooled_dsn()));
    txs.push_back(std::make_unique<pqxx::work>(*conns.back()));
    EXPECT_EQ(txs.back()->exec("SHOW synchronous_commit")[0][0].as<std::string>(), "on")
        << "server session " << i;
  }
}

}  // namespace
}  // namespace reflex_test::rsql
