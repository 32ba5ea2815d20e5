#include "reflex/rnats/kv_cursor_store.hpp"

#include <gtest/gtest.h>

#include "nats_test.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"
#include "reflex/run.hpp"

namespace {

using namespace std::chrono_literals;
namespace rnats = reflex::rnats;

struct Bucket {
  rnats::Connection conn = rnats_test::connect();
  std::string name = reflex_test::unique_name("CUR");
  rnats::StateStore store =
      rnats::StateStore::ensure(conn, {.name = name, .storage = rnats::Storage::memory});
  ~Bucket() {
    try {
      rnats::StateStore::remove(conn, name);
    } catch (...) {
    }
  }
};

TEST(KvCursorStore, StoresCursorsPerConsumerUnderEscapedKeys) {
  Bucket b;
  rnats::KvCursorStore cursors(b.store, {.flush_interval = 0ms});
  EXPECT_EQ(cursors.get("orders.mailer v2"), "");
  cursors.set("orders.mailer v2", "41");
  EXPECT_EQ(cursors.get("orders.mailer v2"), "41");  // sees its own buffered set
  EXPECT_FALSE(b.store.get(rnats::escape_key("orders.mailer v2")).has_value());  // not written yet
  cursors.flush();
  EXPECT_EQ(b.store.get(rnats::escape_key("orders.mailer v2"))->value, "41");
  cursors.set("orders.mailer v2", "42");
  cursors.flush();
  rnats::KvCursorStore fresh(b.store, {.flush_interval = 0ms});
  EXPECT_EQ(fresh.get("orders.mailer v2"), "42");
  EXPECT_EQ(fresh.get("other"), "");
}

TEST(KvCursorStore, AConcurrentRunnerIsAConflictNotALostUpdate) {
  Bucket b;
  rnats::KvCursorStore first(b.store, {.flush_interval = 0ms});
  rnats::KvCursorStore second(b.store, {.flush_interval = 0ms});
  EXPECT_EQ(first.get("c"), "");
  EXPECT_EQ(second.get("c"), "");
  second.set("c", "10");
  second.flush();
  first.set("c", "5");
  try {
    first.flush();
    FAIL() << "a stale runner overwrote the cursor";
  } catch (const rnats::CursorConflict& e) {
    EXPECT_FALSE(e.retryable());
    EXPECT_NE(std::string(e.what()).find("another runner"), std::string::npos) << e.what();
  }
  EXPECT_EQ(b.store.get("c")->value, "10");
  // The failed write is kept (and keeps failing): nothing is silently dropped.
  EXPECT_THROW(first.flush(), rnats::CursorConflict);
  // The winner continues.
  second.set("c", "11");
  EXPECT_NO_THROW(second.flush());
}

TEST(KvCursorStore, NeverMovesBackwardsExceptByAnExplicitReset) {
  Bucket b;
  rnats::KvCursorStore cursors(b.store, {.flush_interval = 0ms});
  (void)cursors.get("c");
  cursors.set("c", "100");
  cursors.flush();
  EXPECT_THROW(cursors.set("c", "99"), reflex::CursorError);
  // A store that never read it refuses to write behind the stored cursor, too.
  rnats::KvCursorStore blind(b.store, {.flush_interval = 0ms});
  blind.set("c", "50");
  EXPECT_THROW(blind.flush(), reflex::CursorError);
  cursors.reset("c", "7");
  EXPECT_EQ(b.store.get("c")->value, "7");
  cursors.set("c", "8");
  EXPECT_NO_THROW(cursors.flush());
}

TEST(KvCursorStore, FlushesPeriodicallyInTheBackground) {
  Bucket b;
  rnats::KvCursorStore cursors(b.store, {.flush_interval = 50ms});
  (void)cursors.get("c");
  cursors.set("c", "3");
  ASSERT_TRUE(rnats_test::eventually([&] {
    const auto e = b.store.get("c");
    return e && e->value == "3";
  }));
}

TEST(KvCursorStore, BackgroundConflictSurfacesOnTheNextSet) {
  Bucket b;
  rnats::KvCursorStore first(b.store, {.flush_interval = 30ms});
  (void)first.get("c");
  b.store.put("c", "500");  // someone else
  first.set("c", "1");
  EXPECT_TRUE(rnats_test::eventually([&] {
    try {
      first.set("c", "2");
      return false;
    } catch (const rnats::CursorConflict&) {
      return true;
    }
  }));
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
        b.store, rnats::KvCursorStoreOptions{.flush_interval = 0ms});
    EXPECT_THROW(reflex::run({}, {.stream = log.stream_func(),
                                  .cursors = cursors,
                                  .consumer = consumer,
                                  .options = {.to_head = true}}),
                 reflex::HeadReached);
  }
  for (int i = 0; i < 5; ++i) log.append(1, "f");
  {
    auto cursors = std::make_shared<rnats::KvCursorStore>(
        b.store, rnats::KvCursorStoreOptions{.flush_interval = 0ms});
    EXPECT_THROW(reflex::run({}, {.stream = log.stream_func(),
                                  .cursors = cursors,
                                  .consumer = consumer,
                                  .options = {.to_head = true}}),
                 reflex::HeadReached);
  }
  ASSERT_EQ(seen.size(), 15u);
  EXPECT_EQ(seen.back(), "15");
  EXPECT_EQ(b.store.get("kv-run")->value, "15");
}

}  // namespace
