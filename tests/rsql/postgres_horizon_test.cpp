// PostgreSQL's transaction-id horizon, narrowed to the events table: a hole waits only for the
// transactions that can still commit an id in it (those that wrote the events table); a long
// transaction elsewhere (a batch job, a migration, a session idle in a transaction, a report)
// does not hold delivery back. The gauge shows a stream that is held.

#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <thread>

#include "backend.hpp"
#include "gap_safety.hpp"
#include "reflex/reflex.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/wait.hpp"

namespace reflex_test::rsql {
namespace {

using namespace std::chrono_literals;
using reflex_test::eventually;

class PostgresHorizon : public ::testing::Test, protected FreshEvents {
 protected:
  PostgresHorizon() : FreshEvents("horizon") {}

  /// A rolled-back id below a committed one ("kept").
  void make_hole(const EventsTable& table) {
    auto a = backend->producer();
    auto b = backend->producer();
    a->begin();
    (void)a->insert(table, NewEvent{.foreign_id = "rolled-back", .type = 1});
    b->begin();
    (void)b->insert(table, NewEvent{.foreign_id = "kept", .type = 1});
    b->commit();
    a->rollback();
  }
};

TEST_F(PostgresHorizon, ATransactionThatInsertedAnEventHoldsTheHoleUntilItEndsAndShowsInTheGauge) {
  auto recorder = std::make_shared<TableRecorder>();
  EventsTable table(db, EventsTableOptions{
                            .schema = {.table = name}, .poll_interval = 10ms, .metrics = recorder});
  // An event inserted and not committed yet: its id is a hole below "kept" that it may still
  // fill, so the stream must wait for it however long it takes.
  auto holder = backend->producer();
  holder->begin();
  (void)holder->insert(table, NewEvent{.foreign_id = "slow", .type = 1});
  auto other = backend->producer();
  other->begin();
  (void)other->insert(table, NewEvent{.foreign_id = "kept", .type = 1});
  other->commit();

  Follower follower(table);
  std::this_thread::sleep_for(400ms);
  EXPECT_TRUE(follower.got().empty()) << "passed a hole its writer could still fill";
  EXPECT_GE(recorder->get().max_blocked_ns.load(), std::chrono::nanoseconds(200ms).count())
      << "the blocking gauge does not show the held stream";
  // The gauge names the backend that holds the hole: the holder, idle in its transaction.
  {
    pqxx::connection observer(backend->dsn());
    pqxx::nontransaction q(observer);
    const auto rows = q.exec_params(
        "SELECT pid FROM pg_stat_activity WHERE state = 'idle in transaction' AND query LIKE $1",
        "%INSERT INTO \"" + name + "\"%");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(recorder->get().blocker.load(), rows[0][0].as<std::int64_t>())
        << "reflex_table_blocker_pid does not name the holder";
  }

  holder->commit();
  follower.wait_for(2, 3s);
  EXPECT_EQ(follower.got(), (std::vector<std::string>{"slow", "kept"}));
  EXPECT_TRUE(eventually([&] { return recorder->get().blocked_ns.load() == 0; }, 1s))
      << "the gauge still shows a block";
  EXPECT_EQ(recorder->get().blocker.load(), 0) << "the blocker gauge still names a process";
}

TEST_F(PostgresHorizon, TransactionsThatDidNotWriteTheEventsTableDoNotHoldAHole) {
  const std::string other_table = name + "_other";
  db->create_events_table({.table = other_table});
  EventsTable table(db, EventsTableOptions{.schema = {.table = name}, .poll_interval = 10ms});
  EventsTable unrelated(db, EventsTableOptions{.schema = {.table = other_table}});

  // A write transaction on another table (it holds an xid older than the hole's probe).
  auto batch_job = backend->producer();
  batch_job->begin();
  (void)batch_job->insert(unrelated, NewEvent{.foreign_id = "nightly", .type = 1});
  // A write transaction that read the events table but wrote only elsewhere.
  auto reporter = backend->producer();
  reporter->begin();
  reporter->exec("SELECT count(*) FROM \"" + name + "\"");
  (void)reporter->insert(unrelated, NewEvent{.foreign_id = "report", .type = 1});
  // A long read-only REPEATABLE READ transaction (a pg_dump), idle in transaction.
  auto dump = backend->producer();
  dump->begin();
  dump->exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
  dump->exec("SELECT count(*) FROM \"" + name + "\"");

  make_hole(table);
  Follower follower(table);
  const auto waited = follower.wait_for(1, 3s);
  EXPECT_EQ(follower.got(), std::vector<std::string>{"kept"});
  EXPECT_LT(waited, 1s) << "a transaction that never wrote the events table held the hole for "
                        << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()
                        << " ms";
  batch_job->rollback();
  reporter->rollback();
  dump->rollback();
}

TEST_F(PostgresHorizon, SixteenWritersStayExactWhileAnUnrelatedWriteTransactionIsOpenTenSeconds) {
  const std::string other_table = name + "_other";
  db->create_events_table({.table = other_table});
  EventsTable unrelated(db, EventsTableOptions{.schema = {.table = other_table}});
  auto batch_job = backend->producer();
  batch_job->begin();
  (void)batch_job->insert(unrelated, NewEvent{.foreign_id = "nightly", .type = 1});

  const auto held = check_gap_safety(*backend, db, name, 10s);
  batch_job->commit();
  // Writer 0's own long transactions (400 ms) hold their holes, as they must; the unrelated one,
  // open the whole 10 s, must not.
  EXPECT_LT(held, std::chrono::nanoseconds(1500ms))
      << "a reader was held " << std::chrono::duration_cast<std::chrono::milliseconds>(held).count()
      << " ms at one hole";
}

}  // namespace
}  // namespace reflex_test::rsql
