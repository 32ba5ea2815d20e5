// The shard leases of shared consumers in SQL, on any dialect: one owner per shard, expiry by the
// database clock, fencing tokens on every write, forward-only cursors, membership.

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include "backend.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"
#include "reflex/rpatterns/shared.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/wait.hpp"

namespace reflex_test::rsql {
namespace {

using namespace std::chrono_literals;
using reflex::CursorConflict;
using reflex::rsql::ShardsSchema;
using reflex::rsql::ShardsTable;

class Shards : public ::testing::Test, protected OnBackend {
 protected:
  Shards() { db->create_shards_tables(schema); }
  ShardsSchema schema{.table = unique_name("shards"), .members_table = unique_name("members")};
  ShardsTable table{db, {.schema = schema}};
};

TEST_F(Shards, AFreeShardIsAcquiredWithATokenAndHeldAgainstOthers) {
  const auto a = table.acquire("mailer", 3, "a", 10s);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->shard, 3u);
  EXPECT_EQ(a->owner, "a");
  EXPECT_EQ(a->token, 1u);
  EXPECT_EQ(a->cursor, "");
  EXPECT_LT(std::chrono::abs(a->expires - (std::chrono::system_clock::now() + 10s)), 1min)
      << "the expiry is the database's now plus the lease time";
  EXPECT_FALSE(table.acquire("mailer", 3, "b", 10s)) << "a holds it";
  EXPECT_TRUE(table.acquire("mailer", 4, "b", 10s)) << "another shard is free";
  EXPECT_TRUE(table.acquire("other", 3, "b", 10s)) << "another consumer's shard is free";
}

TEST_F(Shards, ReleaseFreesTheShardAndTheNextOwnerGetsAGreaterToken) {
  const auto a = table.acquire("mailer", 0, "a", 10s);
  ASSERT_TRUE(a);
  table.release("mailer", 0, a->token);
  const auto b = table.acquire("mailer", 0, "b", 10s);
  ASSERT_TRUE(b);
  EXPECT_GT(b->token, a->token);
  table.release("mailer", 0, a->token);  // not a's any more: nothing happens
  EXPECT_FALSE(table.acquire("mailer", 0, "c", 10s));
}

TEST_F(Shards, AnExpiredLeaseIsTakenAndItsOldTokenRenewsNothing) {
  const auto a = table.acquire("mailer", 1, "a", 200ms);
  ASSERT_TRUE(a);
  EXPECT_TRUE(table.renew("mailer", 1, a->token, 200ms));
  std::optional<reflex::rpatterns::ShardState> b;
  ASSERT_TRUE(eventually(
      [&] {
        b = table.acquire("mailer", 1, "b", 10s);
        return b.has_value();
      },
      5s))
      << "the lease should expire by the database clock";
  EXPECT_GT(b->token, a->token);
  EXPECT_FALSE(table.renew("mailer", 1, a->token, 10s));
  EXPECT_TRUE(table.renew("mailer", 1, b->token, 10s));
}

TEST_F(Shards, AFencedOutOwnerCannotWriteTheCursor) {
  const auto a = table.acquire("mailer", 2, "a", 200ms);
  ASSERT_TRUE(a);
  table.write_cursor("mailer", 2, a->token, "10");
  std::optional<reflex::rpatterns::ShardState> b;
  ASSERT_TRUE(eventually(
      [&] {
        b = table.acquire("mailer", 2, "b", 10s);
        return b.has_value();
      },
      5s));
  EXPECT_EQ(b->cursor, "10") << "the successor continues from the shard cursor";
  try {
    table.write_cursor("mailer", 2, a->token, "20");
    FAIL() << "expected CursorConflict";
  } catch (const CursorConflict& e) {
    EXPECT_NE(std::string(e.what()).find("fenced out"), std::string::npos) << e.what();
    EXPECT_FALSE(e.retryable());
  }
  table.write_cursor("mailer", 2, b->token, "30");
  EXPECT_EQ(table.list("mailer").at(0).cursor, "30");
}

TEST_F(Shards, AnExpiredLeaseNobodyTookStillWritesItsCursor) {
  const auto a = table.acquire("mailer", 2, "a", 1ms);
  ASSERT_TRUE(a);
  std::this_thread::sleep_for(20ms);
  table.write_cursor("mailer", 2, a->token, "5");
  EXPECT_EQ(table.list("mailer").at(0).cursor, "5");
}

TEST_F(Shards, NumericCursorsMoveForwardOnlyUnlessForced) {
  const auto a = table.acquire("mailer", 5, "a", 10s);
  ASSERT_TRUE(a);
  table.write_cursor("mailer", 5, a->token, "9");
  table.write_cursor("mailer", 5, a->token, "10");  // longer: greater, although "10" < "9"
  table.write_cursor("mailer", 5, a->token, "10");  // the same again is fine
  try {
    table.write_cursor("mailer", 5, a->token, "9");
    FAIL() << "expected CursorConflict";
  } catch (const CursorConflict& e) {
    EXPECT_EQ(e.stored(), "10");
    EXPECT_EQ(e.refused(), "9");
  }
  table.force_cursor("mailer", 5, "3");
  EXPECT_EQ(table.list("mailer").at(0).cursor, "3");
  table.write_cursor("mailer", 5, a->token, "4");
  EXPECT_EQ(table.list("mailer").at(0).cursor, "4");
  table.force_cursor("mailer", 6, "77");  // seeds a shard that has no row yet
  const auto states = table.list("mailer");
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[1].shard, 6u);
  EXPECT_EQ(states[1].cursor, "77");
  EXPECT_EQ(states[1].owner, "");
}

TEST_F(Shards, ListShowsEveryShardOfTheConsumerByNumber) {
  ASSERT_TRUE(table.acquire("mailer", 7, "b", 10s));
  ASSERT_TRUE(table.acquire("mailer", 0, "a", 10s));
  ASSERT_TRUE(table.acquire("other", 1, "a", 10s));
  const auto states = table.list("mailer");
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].shard, 0u);
  EXPECT_EQ(states[0].owner, "a");
  EXPECT_EQ(states[1].shard, 7u);
  EXPECT_EQ(states[1].owner, "b");
  EXPECT_TRUE(table.list("nobody").empty());
  EXPECT_EQ(table.groups(), (std::vector<std::string>{"mailer", "other"}));
}

TEST_F(Shards, MembershipListsTheLiveMembersSortedAndForgetsThoseThatLeftOrExpired) {
  EXPECT_EQ(table.heartbeat("mailer", "b", 10s), (std::vector<std::string>{"b"}));
  EXPECT_EQ(table.heartbeat("mailer", "a", 10s), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(table.heartbeat("mailer", "c", 200ms), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(table.heartbeat("other", "z", 10s), (std::vector<std::string>{"z"}));
  table.leave("mailer", "b");
  EXPECT_EQ(table.heartbeat("mailer", "a", 10s), (std::vector<std::string>{"a", "c"}));
  ASSERT_TRUE(eventually(
      [&] { return table.heartbeat("mailer", "a", 10s) == std::vector<std::string>{"a"}; }, 5s))
      << "c's membership should expire by the database clock";
}

TEST_F(Shards, AMissingTableIsASchemaErrorNamingTheDdl) {
  ShardsTable missing(
      db, {.schema = {.table = unique_name("nope"), .members_table = unique_name("nope_members")}});
  try {
    (void)missing.acquire("mailer", 0, "a", 10s);
    FAIL() << "expected SchemaError";
  } catch (const reflex::rsql::SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("shards_ddl"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("create_shards_tables"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)missing.heartbeat("mailer", "a", 10s), reflex::rsql::SchemaError);
}

TEST_F(Shards, RunSharedSharesAConsumerOverTheTable) {
  reflex::MemLog log;
  for (int i = 0; i < 300; ++i) log.append(1, "entity-" + std::to_string(i % 17));
  auto leases =
      std::make_shared<ShardsTable>(db, reflex::rsql::ShardsTableOptions{.schema = schema});
  std::mutex mu;
  std::set<std::string> seen;
  auto spec = reflex::rpatterns::shard_consumer(log.stream_func(),
                                                [&](std::stop_token, const reflex::Event& e) {
                                                  std::lock_guard lock(mu);
                                                  seen.insert(e.id);
                                                });
  const auto run = [&](std::string member) {
    return std::jthread([&, member](std::stop_token stop) {
      reflex::rpatterns::run_shared(stop, leases, "mailer", spec,
                                    {.shards = 4,
                                     .member = member,
                                     .lease_ttl = 2s,
                                     .cursor_flush_interval = 50ms,
                                     .restart = {.log = [](std::string_view) {}}});
    });
  };
  {
    auto a = run("a");
    auto b = run("b");
    ASSERT_TRUE(eventually(
        [&] {
          std::lock_guard lock(mu);
          return seen.size() == 300;
        },
        20s));
  }
  // Both stopped: every shard was released with its cursor at the head of its events.
  const auto states = leases->list("mailer");
  ASSERT_EQ(states.size(), 4u);
  for (const auto& s : states) {
    EXPECT_EQ(s.owner, "") << "shard " << s.shard;
    EXPECT_FALSE(s.cursor.empty()) << "shard " << s.shard;
  }
}

}  // namespace
}  // namespace reflex_test::rsql
