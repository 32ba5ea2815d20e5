// Exactly-once effects across crashes, on any dialect (the executable's backend): a consumer
// process applying events to balances with a transactional cursor is SIGKILLed at random points
// mid-stream, again and again, and restarted; the balances come out exactly the sum of the events.

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <thread>

#include "backend.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/process.hpp"
#include "reflex_test/wait.hpp"

namespace reflex_test::rsql {
namespace {

using namespace std::chrono_literals;

class BalanceKill : public ::testing::Test, protected FreshEvents {};

TEST_F(BalanceKill, KilledTenTimesTheConsumerStillAppliesEveryEventExactlyOnce) {
  constexpr int kEvents = 5000;
  constexpr int kAccounts = 50;
  constexpr int kKills = 10;
  const std::string cursors = unique_name("bal_cursors");
  const std::string balances = unique_name("balances");
  db->create_cursors_table({.table = cursors});
  db->execute("CREATE TABLE " + balances +
              " (account BIGINT NOT NULL PRIMARY KEY, amount BIGINT NOT NULL)");
  std::string rows;
  for (int a = 0; a < kAccounts; ++a) rows += (a ? ", (" : "(") + std::to_string(a) + ", 0)";
  db->execute("INSERT INTO " + balances + " (account, amount) VALUES " + rows);

  const auto seed = std::random_device{}();
  RecordProperty("seed", static_cast<int>(seed));
  std::mt19937 random(seed);
  std::map<int, long long> expected;
  std::vector<NewEvent> events;
  for (int i = 0; i < kEvents; ++i) {
    const int account = static_cast<int>(random() % kAccounts);
    const int amount = 1 + static_cast<int>(random() % 100);
    expected[account] += amount;
    events.push_back(NewEvent{.foreign_id = account, .type = amount});
  }
  EventsTable table(db, {.schema = {.table = name}});
  insert_committed(*backend, table, events);
  const std::string last = table.head();

  const std::vector<std::string> args = {
      REFLEX_BALANCE_CONSUMER, backend->dsn(), name, cursors, balances, "10", "2"};
  const std::string cursor_column =
      backend->dialect() == reflex::rsql::Dialect::postgres ? "\"cursor\"" : "`cursor`";
  const auto cursor = [&]() -> long long {
    const auto got = backend->query("SELECT " + cursor_column + " FROM " + cursors);
    return got.empty() ? 0 : std::stoll(got.front());
  };
  long long before = 0;
  int mid_stream = 0;
  for (int kill = 0; kill < kKills; ++kill) {
    Process consumer(args);
    // Progress first (the consumer connected and committed), then a random moment of its work.
    ASSERT_TRUE(eventually([&] { return cursor() > before || consumer.wait(0ms) != -1; }, 20s))
        << "no progress after kill " << kill << ": " << consumer.err();
    std::this_thread::sleep_for(std::chrono::milliseconds(random() % 40));
    if (consumer.wait(0ms) == -1) ++mid_stream;
    consumer.kill();
    before = cursor();
  }
  EXPECT_EQ(mid_stream, kKills) << "the consumer finished before it was killed ten times";
  EXPECT_LT(before, std::stoll(last)) << "the kills did not land mid-stream";

  const auto finished = run_process(args, {}, 30s);
  ASSERT_EQ(finished.status, 0) << finished.err;
  EXPECT_EQ(cursor(), std::stoll(last));
  const auto got = backend->query("SELECT amount FROM " + balances + " ORDER BY account");
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kAccounts));
  for (int a = 0; a < kAccounts; ++a) {
    EXPECT_EQ(std::stoll(got[static_cast<std::size_t>(a)]), expected[a]) << "account " << a;
  }
}

}  // namespace
}  // namespace reflex_test::rsql
