// PostgreSQL's transaction-id horizon: the price of exactness is that a transaction held open
// anywhere holds delivery past a hole until it ends; the blocking gauge must show it.

#include <gtest/gtest.h>

#include <thread>

#include "backend.hpp"
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
};

TEST_F(PostgresHorizon, ATransactionHeldOpenElsewhereHoldsAHoleAndShowsInTheGauge) {
  const std::string other = name + "_other";
  db->create_events_table({.table = other});
  auto recorder = std::make_shared<TableRecorder>();
  EventsTable table(db, EventsTableOptions{
                            .schema = {.table = name}, .poll_interval = 10ms, .metrics = recorder});
  EventsTable unrelated(db, EventsTableOptions{.schema = {.table = other}});

  // A long transaction on another table: it holds an xid.
  auto holder = backend->producer();
  holder->begin();
  (void)holder->insert(unrelated, NewEvent{.foreign_id = "long", .type = 1});

  // A hole: a rolled-back id below a committed one.
  auto a = backend->producer();
  auto b = backend->producer();
  a->begin();
  (void)a->insert(table, NewEvent{.foreign_id = "rolled-back", .type = 1});
  b->begin();
  (void)b->insert(table, NewEvent{.foreign_id = "kept", .type = 1});
  b->commit();
  a->rollback();

  std::stop_source stop;
  auto stream = table.stream(stop.get_token(), "");
  std::atomic<bool> got{false};
  std::jthread reader([&] {
    try {
      EXPECT_EQ(stream->recv().foreign_id, "kept");
      got = true;
    } catch (const reflex::Canceled&) {
    }
  });
  // Held this long: nothing may arrive meanwhile, and the gauge must show at least 200 ms.
  std::this_thread::sleep_for(400ms);
  EXPECT_FALSE(got.load()) << "passed a hole while an older transaction was still running";
  EXPECT_GE(recorder->get().max_blocked_ns.load(), std::chrono::nanoseconds(200ms).count())
      << "the blocking gauge does not show the held stream";

  holder->commit();
  EXPECT_TRUE(eventually([&] { return got.load(); }, 3s))
      << "delivery did not resume when the long transaction ended";
  EXPECT_EQ(recorder->get().blocked_ns.load(), 0) << "the gauge still shows a block";
  stop.request_stop();
}

}  // namespace
}  // namespace reflex_test::rsql
