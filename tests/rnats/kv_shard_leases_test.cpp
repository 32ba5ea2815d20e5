#include "reflex/rnats/kv_shard_leases.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nats_test.hpp"
#include "reflex/errors.hpp"
#include "reflex/rnats/publisher.hpp"
#include "reflex/rnats/source.hpp"
#include "reflex/rnats/streams.hpp"
#include "reflex_test/wait.hpp"

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
  // A member takes back a lease it holds (one it dropped) with a new token, fencing the old one.
  const auto again = leases.acquire("ledger", 3, "b", 300ms);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->token, 3u);
  EXPECT_FALSE(leases.renew("ledger", 3, second->token, 300ms));
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
  EXPECT_THROW(leases.write_cursor("ledger", 0, lease->token, "5"), reflex::CursorConflict)
      << "a released lease still wrote its cursor";
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

TEST(KvShardLeases, TwoMembersShareAJetStreamConsumerEachEntityInOrder) {
  auto conn = rnats_test::connect();
  rnats_test::TempStream stream(conn);
  constexpr int kEvents = 400;
  for (int i = 0; i < kEvents; ++i) {
    rnats::publish(conn, rnats::event_message(
                             stream.subject(),
                             reflex::Event{.id = std::to_string(i + 1),
                                           .type = 1,
                                           .foreign_id = "account-" + std::to_string(i % 13)}));
  }
  Bucket b;
  auto leases = std::make_shared<rnats::KvShardLeases>(*b);
  std::mutex mu;
  std::map<std::string, std::vector<std::uint64_t>> by_account;
  std::map<std::string, int> times;
  auto spec =
      reflex::rpatterns::shard_consumer(rnats::stream_func(conn, {.stream = stream.name()}),
                                        [&](std::stop_token, const reflex::Event& e) {
                                          std::lock_guard lock(mu);
                                          by_account[e.foreign_id].push_back(std::stoull(e.id));
                                          ++times[e.id];
                                        });
  const auto member = [&](std::string name) {
    return std::jthread([&, name](std::stop_token stop) {
      reflex::rpatterns::run_shared(stop, leases, "ledger", spec,
                                    {.shards = 4,
                                     .member = name,
                                     .lease_ttl = 2s,
                                     .cursor_flush_interval = 50ms,
                                     .restart = {.log = [](std::string_view) {}}});
    });
  };
  {
    auto a = member("a");
    auto c = member("c");
    ASSERT_TRUE(reflex_test::eventually(
        [&] {
          std::lock_guard lock(mu);
          return times.size() == static_cast<std::size_t>(kEvents);
        },
        20s));
  }
  for (const auto& [account, ids] : by_account) {
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end())) << account << " out of order";
  }
  for (const auto& [id, n] : times) EXPECT_EQ(n, 1) << "event " << id << " consumed " << n << "x";
  // Both left: every shard was released with its cursor, each shard's last event.
  const auto shards = leases->list("ledger");
  ASSERT_EQ(shards.size(), 4u);
  for (const auto& s : shards) {
    EXPECT_EQ(s.owner, "") << "shard " << s.shard;
    EXPECT_FALSE(s.cursor.empty()) << "shard " << s.shard;
  }
}

}  // namespace
