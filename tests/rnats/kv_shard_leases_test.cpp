#include "reflex/rnats/kv_shard_leases.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "nats_test.hpp"
#include "reflex/errors.hpp"

namespace {

using namespace std::chrono_literals;
namespace rnats = reflex::rnats;

/// A bucket of the test's own on its own connection.
struct Bucket : rnats_test::TempBucket {
  Bucket() : TempBucket(rnats_test::connect()) {}
};

TEST(KvShardLeases, AShardHasOneOwnerUntilItsLeaseExpiresAndEachTakingRaisesTheToken) {
  Bucket b;
  rnats::KvShardLeases leases(*b);
  const auto first = leases.acquire("ledger", 3, "a", 300ms);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->owner, "a");
  EXPECT_EQ(first->token, 1u);
  EXPECT_FALSE(leases.acquire("ledger", 3, "b", 300ms).has_value());  // a holds it
  EXPECT_TRUE(leases.acquire("ledger", 4, "b", 300ms).has_value());   // another shard is free
  EXPECT_TRUE(leases.acquire("other", 3, "b", 300ms).has_value());    // so is another group's
  std::this_thread::sleep_for(400ms);
  const auto second = leases.acquire("ledger", 3, "b", 300ms);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->owner, "b");
  EXPECT_EQ(second->token, 2u);
  EXPECT_FALSE(leases.renew("ledger", 3, first->token, 300ms));  // a's lease is gone
}

TEST(KvShardLeases, RenewingKeepsTheShardAndReleasingFreesItAtOnce) {
  Bucket b;
  rnats::KvShardLeases leases(*b);
  const auto lease = leases.acquire("ledger", 0, "a", 300ms);
  ASSERT_TRUE(lease.has_value());
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(150ms);
    ASSERT_TRUE(leases.renew("ledger", 0, lease->token, 300ms));
  }
  EXPECT_FALSE(leases.acquire("ledger", 0, "b", 300ms).has_value());  // 600 ms on, still a's
  leases.release("ledger", 0, lease->token);
  const auto next = leases.acquire("ledger", 0, "b", 300ms);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->token, lease->token + 1);
  leases.release("ledger", 0, lease->token);  // a stale release frees nothing
  EXPECT_EQ(leases.list("ledger").at(0).owner, "b");
}

TEST(KvShardLeases, AFencedOutOwnerCannotWriteTheCursorItsSuccessorContinuesFrom) {
  Bucket b;
  rnats::KvShardLeases leases(*b);
  const auto old_owner = leases.acquire("ledger", 1, "a", 200ms);
  ASSERT_TRUE(old_owner.has_value());
  leases.write_cursor("ledger", 1, old_owner->token, "40");
  std::this_thread::sleep_for(300ms);
  // Expired but not taken: the token still holds the shard, its write lands.
  leases.write_cursor("ledger", 1, old_owner->token, "41");
  const auto successor = leases.acquire("ledger", 1, "b", 5s);
  ASSERT_TRUE(successor.has_value());
  EXPECT_EQ(successor->cursor, "41");  // continues where the old owner got
  try {
    leases.write_cursor("ledger", 1, old_owner->token, "45");
    FAIL() << "a fenced-out write landed";
  } catch (const reflex::CursorConflict& e) {
    EXPECT_NE(std::string(e.what()).find("fenced out"), std::string::npos) << e.what();
    EXPECT_FALSE(e.retryable());
  }
  EXPECT_EQ(leases.list("ledger").at(0).cursor, "41");
  leases.write_cursor("ledger", 1, successor->token, "50");
  EXPECT_THROW(leases.write_cursor("ledger", 1, successor->token, "49"), reflex::CursorConflict);
  leases.force_cursor("ledger", 1, "10");  // an operator's rewind
  EXPECT_EQ(leases.list("ledger").at(0).cursor, "10");
  EXPECT_EQ(leases.list("ledger").at(0).owner, "b");
}

TEST(KvShardLeases, ManyMembersRacingForAShardGetOneLeaseBetweenThem) {
  Bucket b;
  rnats::KvShardLeases leases(*b);
  std::atomic<int> winners{0};
  std::vector<std::jthread> racers;
  for (int i = 0; i < 6; ++i) {
    racers.emplace_back([&, i] {
      for (std::size_t shard = 0; shard < 4; ++shard) {
        if (leases.acquire("race", shard, "m" + std::to_string(i), 10s)) ++winners;
      }
    });
  }
  racers.clear();
  EXPECT_EQ(winners.load(), 4);  // one winner per shard
  const auto shards = leases.list("race");
  ASSERT_EQ(shards.size(), 4u);
  for (const auto& s : shards) EXPECT_EQ(s.token, 1u);
}

TEST(KvShardLeases, HeartbeatsListTheLiveMembersAndForgetTheDeadOnes) {
  Bucket b;
  rnats::KvShardLeases leases(*b);
  EXPECT_EQ(leases.heartbeat("ledger", "b.host:1", 250ms), std::vector<std::string>{"b.host:1"});
  EXPECT_EQ(leases.heartbeat("ledger", "a", 5s), (std::vector<std::string>{"a", "b.host:1"}));
  EXPECT_EQ(leases.heartbeat("other", "z", 5s), std::vector<std::string>{"z"});
  std::this_thread::sleep_for(350ms);
  EXPECT_EQ(leases.heartbeat("ledger", "a", 5s), std::vector<std::string>{"a"});  // b expired
  leases.heartbeat("ledger", "c", 5s);
  leases.leave("ledger", "c");
  EXPECT_EQ(leases.heartbeat("ledger", "a", 5s), std::vector<std::string>{"a"});
}

TEST(KvShardLeases, AKeyThatIsNotALeaseIsAnErrorNamingIt) {
  Bucket b;
  b->put("ledger.shard.0", "not json");
  rnats::KvShardLeases leases(*b);
  try {
    (void)leases.acquire("ledger", 0, "a", 1s);
    FAIL() << "a foreign value was taken for a lease";
  } catch (const reflex::Error& e) {
    EXPECT_NE(std::string(e.what()).find("ledger.shard.0"), std::string::npos) << e.what();
  }
}

}  // namespace
