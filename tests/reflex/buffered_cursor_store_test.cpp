// The rules every buffered cursor store of reflex follows, on an in-memory storage whose
// failures a test can switch on. The SQL and NATS KV stores run the same rules against real
// servers in their own tests.
#include "reflex/buffered_cursor_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "reflex/errors.hpp"
#include "reflex/event.hpp"
#include "reflex_test/wait.hpp"

namespace {

using namespace std::chrono_literals;
using reflex::BufferedCursorStore;
using reflex_test::eventually;

/// Cursors in a map, forward-only like the SQL table; `failing` makes every write throw a
/// retryable error (the server is away).
class MapStorage final : public reflex::CursorStorage {
 public:
  std::optional<std::string> read(std::string_view name) override {
    std::optional<std::string> found;
    {
      std::lock_guard lock(mutex);
      if (auto it = cursors.find(std::string(name)); it != cursors.end()) found = it->second;
    }
    if (after_read) after_read();  // the answer is on its way back: a write may overtake it
    return found;
  }
  void write(std::string_view name, std::string_view cursor) override {
    std::lock_guard lock(mutex);
    ++writes;
    if (failing) throw reflex::Unavailable("storage away");
    auto& stored = cursors[std::string(name)];
    const auto a = reflex::parse_int64(stored);
    const auto b = reflex::parse_int64(cursor);
    if (a && b && *b < *a)
      throw reflex::CursorConflict(std::string(name), stored, std::string(cursor));
    stored = cursor;
  }
  void force_write(std::string_view name, std::string_view cursor) override {
    std::lock_guard lock(mutex);
    cursors[std::string(name)] = cursor;
  }
  bool remove(std::string_view name) override {
    std::lock_guard lock(mutex);
    return cursors.erase(std::string(name)) > 0;
  }
  std::vector<std::pair<std::string, std::string>> list() override {
    std::lock_guard lock(mutex);
    return {cursors.begin(), cursors.end()};
  }
  std::string describe() const override { return "the test map"; }

  std::mutex mutex;
  std::map<std::string, std::string> cursors;
  std::atomic<bool> failing{false};
  std::atomic<int> writes{0};
  std::function<void()> after_read{};
};

struct Store {
  explicit Store(std::chrono::milliseconds interval,
                 std::function<void(std::size_t)> on_written = {}) {
    auto owned = std::make_unique<MapStorage>();
    storage = owned.get();
    store = std::make_unique<BufferedCursorStore>(
        std::move(owned), reflex::BufferedCursorStoreOptions{.flush_interval = interval,
                                                             .on_written = std::move(on_written)});
  }
  MapStorage* storage;
  std::unique_ptr<BufferedCursorStore> store;
};

TEST(BufferedCursorStore, WritesOnlyTheLatestCursorOfEachConsumerPerFlush) {
  std::size_t reported = 0;
  Store s(1h, [&](std::size_t n) { reported += n; });
  for (int i = 1; i <= 100; ++i) s.store->set("a", std::to_string(i));
  s.store->set("b", "7");
  EXPECT_EQ(s.store->get("a"), "100") << "get sees what set recorded";
  EXPECT_EQ(s.storage->writes, 0);
  s.store->flush();
  EXPECT_EQ(s.storage->writes, 2);
  EXPECT_EQ(reported, 2u);
  EXPECT_EQ(s.storage->read("a"), "100");
  EXPECT_TRUE(s.store->pending().empty());
  s.store->set("a", "100");  // unchanged: nothing to write
  s.store->flush();
  EXPECT_EQ(s.storage->writes, 2);
}

TEST(BufferedCursorStore, WithoutAnIntervalEverySetWritesAtOnce) {
  Store s(0ms);
  s.store->set("a", "3");
  EXPECT_EQ(s.storage->read("a"), "3");
  s.storage->failing = true;
  EXPECT_THROW(s.store->set("a", "4"), reflex::Unavailable) << "the write's failure is the set's";
  EXPECT_EQ(s.store->pending(), std::vector<std::string>{"a"});
}

TEST(BufferedCursorStore, TheBackgroundWriterWritesPeriodically) {
  Store s(20ms);
  s.store->set("a", "5");
  EXPECT_TRUE(eventually([&] { return s.storage->read("a") == "5"; }));
}

TEST(BufferedCursorStore, ANumericCursorNeverMovesBackwardsButOtherCursorsAreWrittenAsGiven) {
  Store s(0ms);
  s.store->set("a", "9");
  s.store->set("a", "10");  // a longer number is greater although "10" < "9" as text
  try {
    s.store->set("a", "9");
    FAIL() << "expected a CursorConflict";
  } catch (const reflex::CursorConflict& e) {
    EXPECT_EQ(e.consumer(), "a");
    EXPECT_EQ(e.stored(), "10");
    EXPECT_EQ(e.refused(), "9");
    EXPECT_FALSE(e.retryable());
    EXPECT_NE(std::string(e.what()).find("the test map"), std::string::npos) << e.what();
  }
  EXPECT_EQ(s.storage->read("a"), "10");
  s.store->set("remote", "abc");
  s.store->set("remote", "abb");
  EXPECT_EQ(s.storage->read("remote"), "abb");
}

TEST(BufferedCursorStore, ACursorTheStorageRefusesIsDroppedAndLaterOnesBehindItAreRefusedAtOnce) {
  Store s(1h);
  s.storage->force_write("a", "100");  // another runner is ahead
  s.store->set("a", "40");             // this store never read it
  EXPECT_THROW(s.store->flush(), reflex::CursorConflict);
  EXPECT_TRUE(s.store->pending().empty()) << "a refused cursor is not retried forever";
  EXPECT_NO_THROW(s.store->flush());
  EXPECT_THROW(s.store->set("a", "41"), reflex::CursorConflict);
  EXPECT_EQ(s.storage->read("a"), "100");
  s.store->set("a", "101");
  EXPECT_NO_THROW(s.store->flush());
}

TEST(BufferedCursorStore, AFailedFlushKeepsEveryCursorUnlessANewerOneWasSet) {
  Store s(1h);
  s.store->set("a", "1");
  s.store->set("b", "2");
  s.storage->failing = true;
  EXPECT_THROW(s.store->flush(), reflex::Unavailable);
  EXPECT_EQ(s.storage->writes, 2) << "every cursor was tried";
  EXPECT_EQ(s.store->pending(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.store->get("a"), "1");
  s.store->set("b", "3");
  s.storage->failing = false;
  s.store->flush();
  EXPECT_TRUE(s.store->pending().empty());
  EXPECT_EQ(s.storage->read("a"), "1");
  EXPECT_EQ(s.storage->read("b"), "3");
}

TEST(BufferedCursorStore, ABackgroundFailureIsThrownOnceByTheNextSetWhichStillRecordsItsCursor) {
  Store s(10ms);
  s.storage->failing = true;
  s.store->set("a", "1");
  EXPECT_TRUE(eventually([&] { return s.storage->writes > 0; }));
  EXPECT_TRUE(eventually([&] {
    try {
      s.store->set("a", "2");
      return false;
    } catch (const reflex::Unavailable&) {
      return true;
    }
  }));
  // Its event was consumed: the cursor is kept, so the next run does not deliver it again.
  EXPECT_EQ(s.store->get("a"), "2") << "the throwing set dropped its cursor";
  s.storage->failing = false;
  EXPECT_TRUE(eventually([&] { return s.storage->read("a") == "2"; })) << "kept and written later";
}

TEST(BufferedCursorStore, ForceSetRewindsAndRemoveStartsTheConsumerAfresh) {
  Store s(1h);
  s.store->set("a", "50");
  s.store->flush();
  s.store->set("a", "60");  // recorded, then overruled by the operator
  s.store->force_set("a", "20");
  EXPECT_EQ(s.storage->read("a"), "20");
  EXPECT_TRUE(s.store->pending().empty());
  s.store->set("a", "21");
  EXPECT_TRUE(s.store->remove("a"));
  EXPECT_FALSE(s.store->remove("a"));
  EXPECT_EQ(s.store->get("a"), "");
  s.store->set("a", "5");  // not "backwards" from a removed cursor
  EXPECT_EQ(s.store->list(), (std::vector<std::pair<std::string, std::string>>{{"a", "5"}}));
}

TEST(BufferedCursorStore, DestructionWritesWhatIsPending) {
  /// Hands its writes on to a map that outlives the store.
  class Forwarding final : public reflex::CursorStorage {
   public:
    explicit Forwarding(MapStorage& to) : to_(to) {}
    std::optional<std::string> read(std::string_view n) override { return to_.read(n); }
    void write(std::string_view n, std::string_view c) override { to_.write(n, c); }
    void force_write(std::string_view n, std::string_view c) override { to_.force_write(n, c); }
    bool remove(std::string_view n) override { return to_.remove(n); }
    std::vector<std::pair<std::string, std::string>> list() override { return to_.list(); }
    std::string describe() const override { return to_.describe(); }

   private:
    MapStorage& to_;
  };
  MapStorage map;
  {
    BufferedCursorStore store(std::make_unique<Forwarding>(map), {.flush_interval = 1h});
    store.set("a", "11");
    EXPECT_FALSE(map.read("a").has_value());
  }
  EXPECT_EQ(map.read("a"), "11");
}

TEST(BufferedCursorStore, AReadOvertakenByAWriteDoesNotMakeTheStoreForgetTheWrite) {
  Store s(0ms);
  s.store->set("a", "5");
  std::promise<void> read_done_reading;
  std::promise<void> write_done;
  auto written = write_done.get_future().share();
  std::atomic<bool> armed{true};
  s.storage->after_read = [&] {
    if (!armed.exchange(false)) return;  // only the reader's read is held up
    read_done_reading.set_value();
    written.wait();
  };
  std::jthread reader([&] { EXPECT_EQ(s.store->get("a"), "5"); });
  read_done_reading.get_future().wait();
  s.store->set("a", "6");  // written while the read's stale answer is on its way back
  write_done.set_value();
  reader.join();
  EXPECT_THROW(s.store->set("a", "5"), reflex::CursorConflict)
      << "the store still knows 6 was written, so 5 is backwards";
  EXPECT_EQ(s.storage->read("a"), "6");
}

TEST(BufferedCursorStore, RefusesAnEmptyNameAndANullStorage) {
  Store s(0ms);
  EXPECT_THROW(s.store->set("", "1"), reflex::ConfigError);
  EXPECT_THROW(BufferedCursorStore(nullptr), reflex::ConfigError);
}

}  // namespace
