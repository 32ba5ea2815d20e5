#include "reflex/rnats/kv_cursor_store.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "nats_test.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"
#include "reflex/run.hpp"

namespace {

using namespace std::chrono_literals;
namespace rnats = reflex::rnats;

/// A bucket of the test's own on its own connection.
struct Bucket : rnats_test::TempBucket {
  Bucket() : TempBucket(rnats_test::connect()) {}
};

TEST(KvCursorStore, StoresCursorsPerConsumerUnderEscapedKeys) {
  Bucket b;
  rnats::KvCursorStore cursors(*b, {.flush_interval = 1h});  // buffered until flush
  EXPECT_EQ(cursors.get("orders.mailer v2"), "");
  cursors.set("orders.mailer v2", "41");
  EXPECT_EQ(cursors.get("orders.mailer v2"), "41");  // sees its own buffered set
  EXPECT_FALSE(b->get(rnats::escape_key("orders.mailer v2")).has_value());  // not written yet
  EXPECT_EQ(cursors.pending(), std::vector<std::string>{"orders.mailer v2"});
  cursors.flush();
  EXPECT_EQ(b->get(rnats::escape_key("orders.mailer v2"))->value, "41");
  cursors.set("orders.mailer v2", "42");
  cursors.flush();
  rnats::KvCursorStore fresh(*b, {.flush_interval = 0ms});
  EXPECT_EQ(fresh.get("orders.mailer v2"), "42");
  EXPECT_EQ(fresh.get("other"), "");
}

TEST(KvCursorStore, WithoutAnIntervalEverySetWritesAtOnce) {
  // flush_interval 0 is write-through, as for rsql::CursorsTable.
  Bucket b;
  rnats::KvCursorStore cursors(*b, {.flush_interval = 0ms});
  cursors.set("c", "1");
  EXPECT_EQ(b->get("c")->value, "1");
  EXPECT_TRUE(cursors.pending().empty());
  cursors.set("c", "2");
  EXPECT_EQ(b->get("c")->value, "2");
}

TEST(KvCursorStore, DestructionWritesWhatIsPending) {
  Bucket b;
  {
    rnats::KvCursorStore cursors(*b, {.flush_interval = 1h});
    cursors.set("c", "9");
  }
  EXPECT_EQ(b->get("c")->value, "9");
}

TEST(KvCursorStore, OpeningAnExistingBucketByNameLeavesItsConfigurationAlone) {
  // The bucket's owner chose memory storage (which JetStream cannot change) and a TTL.
  Bucket b;
  (void)rnats::StateStore::ensure(
      b.connection(), {.name = b->bucket(), .ttl = 1h, .storage = rnats::Storage::memory});
  rnats::KvCursorStore cursors(b.connection(), b->bucket(), {.flush_interval = 0ms});
  cursors.set("billing", "7");
  cursors.flush();
  EXPECT_EQ(b->get("billing")->value, "7");
  // A missing bucket is still created.
  const std::string fresh = reflex_test::unique_name("CURNEW");
  {
    rnats::KvCursorStore created(b.connection(), fresh, {.flush_interval = 0ms});
    created.set("c", "1");
    created.flush();
  }
  EXPECT_EQ(rnats::StateStore::open(b.connection(), fresh).get("c")->value, "1");
  EXPECT_TRUE(rnats::StateStore::remove(b.connection(), fresh));
}

TEST(KvCursorStore, AConcurrentRunnerIsAConflictNotALostUpdate) {
  Bucket b;
  rnats::KvCursorStore first(*b, {.flush_interval = 0ms});
  rnats::KvCursorStore second(*b, {.flush_interval = 0ms});
  EXPECT_EQ(first.get("c"), "");
  EXPECT_EQ(second.get("c"), "");
  second.set("c", "10");
  try {
    first.set("c", "5");  // written at once: the set itself is refused
    FAIL() << "a stale runner overwrote the cursor";
  } catch (const reflex::CursorConflict& e) {
    EXPECT_FALSE(e.retryable());
    EXPECT_EQ(e.consumer(), "c");
    EXPECT_EQ(e.stored(), "10");  // re-read for the message
    EXPECT_EQ(e.refused(), "5");
    EXPECT_NE(std::string(e.what()).find("another runner"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("KV bucket \"" + b->bucket() + "\""), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(b->get("c")->value, "10");
  // Nothing is silently overwritten: behind the stored cursor is refused at once, and ahead of it
  // keeps failing on the revision until this runner reads the cursor again.
  EXPECT_THROW(first.set("c", "6"), reflex::CursorConflict);
  EXPECT_THROW(first.set("c", "12"), reflex::CursorConflict);
  EXPECT_EQ(b->get("c")->value, "10");
  // The winner continues.
  EXPECT_NO_THROW(second.set("c", "11"));
  // Reading again is deciding again: the loser may go on from what it now knows.
  EXPECT_EQ(first.get("c"), "11");
  EXPECT_NO_THROW(first.set("c", "13"));
  EXPECT_EQ(b->get("c")->value, "13");
  EXPECT_THROW(second.set("c", "14"), reflex::CursorConflict);
}

TEST(KvCursorStore, ABufferedConflictSurfacesOnFlushAndDropsOnlyThatCursor) {
  Bucket b;
  rnats::KvCursorStore first(*b, {.flush_interval = 1h});
  (void)first.get("c");
  b->put("c", "10");  // someone else
  first.set("c", "5");
  first.set("d", "1");
  EXPECT_THROW(first.flush(), reflex::CursorConflict);
  EXPECT_EQ(b->get("c")->value, "10");
  EXPECT_EQ(b->get("d")->value, "1");    // the others are written all the same
  EXPECT_TRUE(first.pending().empty());  // a refused cursor cannot succeed later
  EXPECT_NO_THROW(first.flush());
}

TEST(KvCursorStore, NeverMovesBackwardsExceptByAnExplicitReset) {
  Bucket b;
  rnats::KvCursorStore cursors(*b, {.flush_interval = 0ms});
  (void)cursors.get("c");
  cursors.set("c", "100");
  EXPECT_THROW(cursors.set("c", "99"), reflex::CursorConflict);
  // A store that never read it refuses to write behind the stored cursor, too.
  rnats::KvCursorStore blind(*b, {.flush_interval = 0ms});
  try {
    blind.set("c", "50");
    FAIL() << "a store that never read the cursor moved it backwards";
  } catch (const reflex::CursorConflict& e) {
    EXPECT_EQ(e.stored(), "100");
    EXPECT_EQ(e.refused(), "50");
  }
  EXPECT_EQ(b->get("c")->value, "100");
  cursors.force_set("c", "7");
  EXPECT_EQ(b->get("c")->value, "7");
  EXPECT_NO_THROW(cursors.set("c", "8"));
  EXPECT_EQ(b->get("c")->value, "8");
  // Cursors that are not numbers are written as given.
  cursors.set("named", "b");
  EXPECT_NO_THROW(cursors.set("named", "a"));
  EXPECT_EQ(b->get("named")->value, "a");
}

TEST(KvCursorStore, ListsEveryCursorByItsUnescapedNameIncludingBufferedSets) {
  Bucket b;
  rnats::KvCursorStore cursors(*b, {.flush_interval = 0ms});
  EXPECT_TRUE(cursors.list().empty());
  cursors.set("billing/eu", "7");
  cursors.set("a b", "3");
  cursors.set("orders.mailer", "12");
  cursors.flush();
  rnats::KvCursorStore other(*b, {.flush_interval = 1h});
  other.set("zeta", "1");  // buffered only: list flushes it first
  EXPECT_EQ(other.list(),
            (std::vector<std::pair<std::string, std::string>>{
                {"a b", "3"}, {"billing/eu", "7"}, {"orders.mailer", "12"}, {"zeta", "1"}}));
  EXPECT_EQ(b->get("zeta")->value, "1");
  b->erase(rnats::escape_key("a b"));  // erased by someone else: not listed
  EXPECT_EQ(cursors.list(), (std::vector<std::pair<std::string, std::string>>{
                                {"billing/eu", "7"}, {"orders.mailer", "12"}, {"zeta", "1"}}));
}

TEST(KvCursorStore, RemoveErasesACursorOnceAndTheConsumerStartsAfresh) {
  Bucket b;
  rnats::KvCursorStore cursors(*b, {.flush_interval = 0ms});
  cursors.set("billing/eu", "40");
  cursors.flush();
  EXPECT_TRUE(cursors.remove("billing/eu"));
  EXPECT_FALSE(b->get(rnats::escape_key("billing/eu")).has_value());
  EXPECT_EQ(cursors.get("billing/eu"), "");
  EXPECT_FALSE(cursors.remove("billing/eu"));
  EXPECT_TRUE(cursors.list().empty());
  // A later set is not "backwards" from the removed cursor and is written afresh.
  cursors.set("billing/eu", "5");
  cursors.flush();
  EXPECT_EQ(b->get(rnats::escape_key("billing/eu"))->value, "5");
  // Another store object sees the same: removed, then gone, then a fresh start.
  rnats::KvCursorStore fresh(*b, {.flush_interval = 1h});
  EXPECT_EQ(fresh.get("billing/eu"), "5");
  EXPECT_TRUE(fresh.remove("billing/eu"));
  EXPECT_EQ(fresh.get("billing/eu"), "");
  // A buffered set alone is no stored cursor: dropped, and remove says there was none.
  fresh.set("a b", "9");
  EXPECT_FALSE(fresh.remove("a b"));
  EXPECT_EQ(fresh.get("a b"), "");
  fresh.flush();
  EXPECT_FALSE(b->get(rnats::escape_key("a b")).has_value());
  fresh.set("a b", "1");
  EXPECT_NO_THROW(fresh.flush());
  EXPECT_EQ(fresh.list(), (std::vector<std::pair<std::string, std::string>>{{"a b", "1"}}));
}

TEST(KvCursorStore, ACursorErasedBySomeoneElseStartsAfreshOnceReadAgain) {
  Bucket b;
  rnats::KvCursorStore cursors(*b, {.flush_interval = 0ms});
  cursors.set("c", "10");
  b->erase("c");  // e.g. `reflexctl cursors delete` while the consumer is stopped
  EXPECT_EQ(cursors.get("c"), "");
  EXPECT_NO_THROW(cursors.set("c", "3"));
  const auto entry = b->get("c");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->value, "3");
}

TEST(KvCursorStore, FlushesPeriodicallyInTheBackground) {
  Bucket b;
  rnats::KvCursorStore cursors(*b, {.flush_interval = 50ms});
  (void)cursors.get("c");
  cursors.set("c", "3");
  ASSERT_TRUE(rnats_test::eventually([&] {
    const auto e = b->get("c");
    return e && e->value == "3";
  }));
}

TEST(KvCursorStore, BackgroundConflictSurfacesOnTheNextSet) {
  Bucket b;
  rnats::KvCursorStore first(*b, {.flush_interval = 30ms});
  (void)first.get("c");
  b->put("c", "500");     // someone else
  first.set("c", "501");  // ahead of it, but based on a stale revision
  // The background writer's conflict is thrown by a later set, even of another consumer.
  EXPECT_TRUE(rnats_test::eventually([&] {
    try {
      first.set("x", "1");
      return false;
    } catch (const reflex::CursorConflict& e) {
      return e.consumer() == "c";
    }
  }));
  EXPECT_EQ(b->get("c")->value, "500");
}

TEST(KvCursorStore, RunKeepsTheConsumersCursorAcrossRestarts) {
  Bucket b;
  reflex::MemLog log;
  for (int i = 0; i < 10; ++i) log.append(1, "f");
  std::vector<std::string> seen;
  auto consumer =
      reflex::make_consumer("kv-run", [&](const reflex::Event& e) { seen.push_back(e.id); });
  {
    auto cursors = std::make_shared<rnats::KvCursorStore>(
        *b, rnats::KvCursorStoreOptions{.flush_interval = 0ms});
    EXPECT_THROW(reflex::run({}, {.stream = log.stream_func(),
                                  .cursors = cursors,
                                  .consumer = consumer,
                                  .options = {.to_head = true}}),
                 reflex::HeadReached);
  }
  for (int i = 0; i < 5; ++i) log.append(1, "f");
  {
    auto cursors = std::make_shared<rnats::KvCursorStore>(
        *b, rnats::KvCursorStoreOptions{.flush_interval = 0ms});
    EXPECT_THROW(reflex::run({}, {.stream = log.stream_func(),
                                  .cursors = cursors,
                                  .consumer = consumer,
                                  .options = {.to_head = true}}),
                 reflex::HeadReached);
  }
  ASSERT_EQ(seen.size(), 15u);
  EXPECT_EQ(seen.back(), "15");
  EXPECT_EQ(b->get("kv-run")->value, "15");
}

}  // namespace
