#include "reflex/rnats/kv.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

#include "nats_test.hpp"
#include "reflex/errors.hpp"

namespace {

using namespace std::chrono_literals;
namespace rnats = reflex::rnats;
using rnats_test::TempBucket;

TEST(StateStore, GetTellsAMissingKeyFromAnEmptyValue) {
  auto conn = rnats_test::connect();
  TempBucket kv(conn);
  EXPECT_FALSE(kv->get("missing").has_value());
  const auto rev = kv->put("empty", "");
  const auto entry = kv->get("empty");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->value, "");
  EXPECT_EQ(entry->revision, rev);
  EXPECT_EQ(entry->key, "empty");
  kv->put("bin", std::string("a\0b", 3));
  EXPECT_EQ(kv->get("bin")->value, std::string("a\0b", 3));
  kv->erase("empty");
  EXPECT_FALSE(kv->get("empty").has_value());
}

TEST(StateStore, CreateOnlySucceedsOnceAndAgainAfterErase) {
  auto conn = rnats_test::connect();
  TempBucket kv(conn);
  const auto rev = kv->create("k", "v1");
  EXPECT_GT(rev, 0u);
  EXPECT_THROW(kv->create("k", "v2"), rnats::RevisionConflict);
  EXPECT_EQ(kv->get("k")->value, "v1");
  kv->erase("k");
  EXPECT_NO_THROW(kv->create("k", "v3"));
  EXPECT_EQ(kv->get("k")->value, "v3");
}

TEST(StateStore, UpdateIfRevisionDetectsAConcurrentWriter) {
  auto conn = rnats_test::connect();
  TempBucket kv(conn);
  const auto r1 = kv->put("k", "a");
  const auto r2 = kv->update("k", "b", r1);
  EXPECT_GT(r2, r1);
  try {
    kv->update("k", "c", r1);  // stale: someone (we) wrote r2 meanwhile
    FAIL() << "stale update accepted";
  } catch (const rnats::RevisionConflict& e) {
    EXPECT_FALSE(e.retryable());
  }
  EXPECT_EQ(kv->get("k")->value, "b");
  EXPECT_THROW(kv->update("k", "c", 0), reflex::ConfigError);
}

TEST(StateStore, EraseIfRevisionIsCompareAndSet) {
  auto conn = rnats_test::connect();
  TempBucket kv(conn);
  const auto r1 = kv->put("k", "a");
  const auto r2 = kv->put("k", "b");
  EXPECT_THROW(kv->erase("k", r1), rnats::RevisionConflict);
  EXPECT_EQ(kv->get("k")->value, "b");
  kv->erase("k", r2);
  EXPECT_FALSE(kv->get("k").has_value());
  // Erased keys can be created again.
  EXPECT_NO_THROW(kv->create("k", "c"));
}

TEST(StateStore, KeysListsTheCurrentKeysButNotErasedOnes) {
  auto conn = rnats_test::connect();
  TempBucket kv(conn, 3);
  EXPECT_EQ(kv->keys(), std::vector<std::string>{});  // an empty bucket is no error
  kv->put("users.2", "bob");
  kv->put("users.1", "alice");
  kv->put("users.1", "alice2");  // a key with several revisions is listed once
  kv->put("orders/1", "");       // an empty value is still a key
  kv->put("gone", "x");
  kv->put("gone", "y");
  kv->erase("gone");
  kv->put("erased.by.revision", "x");
  kv->erase("erased.by.revision", kv->get("erased.by.revision")->revision);
  EXPECT_EQ(kv->keys(), (std::vector<std::string>{"orders/1", "users.1", "users.2"}));
  kv->erase("users.1");
  kv->erase("users.2");
  kv->erase("orders/1");
  EXPECT_EQ(kv->keys(), std::vector<std::string>{});  // only delete markers left
  kv->create("gone", "back");
  EXPECT_EQ(kv->keys(), std::vector<std::string>{"gone"});
}

TEST(StateStore, KeysGathersABucketOfThousandsOfKeysAndDeleteMarkers) {
  auto conn = rnats_test::connect();
  TempBucket kv(conn);
  constexpr int count = 3000;
  for (int i = 0; i < count; ++i) kv->put("k" + std::to_string(i), "v");
  auto keys = kv->keys();
  ASSERT_EQ(keys.size(), static_cast<std::size_t>(count));
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  // Thousands of delete markers are skipped as quickly.
  for (int i = 0; i < count; i += 2) kv->erase("k" + std::to_string(i));
  keys = kv->keys();
  ASSERT_EQ(keys.size(), static_cast<std::size_t>(count / 2));
  EXPECT_EQ(keys.front(), "k1");
}

TEST(StateStore, RejectsInvalidKeysWithAHelpfulError) {
  auto conn = rnats_test::connect();
  TempBucket kv(conn);
  for (const std::string bad : {"", "a b", ".lead", "trail.", "dou..ble", "wild*", "é"}) {
    try {
      kv->put(bad, "v");
      FAIL() << "accepted key \"" << bad << "\"";
    } catch (const reflex::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("escape_key"), std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(kv->put(rnats::escape_key("a b.é"), "v"));
  EXPECT_NO_THROW(kv->put("users.1/profile=x", "v"));
}

TEST(StateStore, EnsureUpdatesAnExistingBucketAndOpenFindsIt) {
  auto conn = rnats_test::connect();
  const std::string name = reflex_test::unique_name("KVE");
  rnats::StateStore::ensure(conn, {.name = name, .history = 1, .storage = rnats::Storage::memory});
  auto store = rnats::StateStore::ensure(
      conn, {.name = name, .history = 5, .storage = rnats::Storage::memory});
  for (int i = 0; i < 5; ++i) store.put("k", std::to_string(i));
  // History 5: a watch with history sees all five revisions.
  std::vector<std::string> seen;
  std::mutex mu;
  auto watch = store.watch("k",
                           [&](const rnats::Change& c) {
                             std::lock_guard lock(mu);
                             seen.push_back(c.entry.value);
                           },
                           {.include_history = true});
  ASSERT_TRUE(watch.wait_caught_up({}, 5s));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen, (std::vector<std::string>{"0", "1", "2", "3", "4"}));
  }
  EXPECT_EQ(rnats::StateStore::open(conn, name).get("k")->value, "4");
  EXPECT_THROW(rnats::StateStore::ensure(conn, {.name = name, .storage = rnats::Storage::file}),
               reflex::ConfigError);
  watch.stop();
  EXPECT_TRUE(rnats::StateStore::remove(conn, name));
  EXPECT_THROW((void)rnats::StateStore::open(conn, name), rnats::NotFound);
  EXPECT_THROW((void)rnats::StateStore::ensure(conn, {.name = "bad.name"}), reflex::ConfigError);
}

struct Recorder {
  std::mutex mu;
  std::vector<rnats::Change> changes;
  std::vector<std::thread::id> threads;
  void operator()(const rnats::Change& c) {
    std::lock_guard lock(mu);
    changes.push_back(c);
    threads.push_back(std::this_thread::get_id());
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return changes.size();
  }
};

TEST(StateStore, WatchDeliversCurrentValuesThenChangesOnItsOwnThread) {
  auto conn = rnats_test::connect();
  TempBucket kv(conn);
  kv->put("orders.1", "new");
  kv->put("users.1", "alice");
  Recorder rec;
  auto watch = kv->watch("orders.>", std::ref(rec));
  ASSERT_TRUE(watch.wait_caught_up({}, 5s));
  EXPECT_EQ(rec.size(), 1u);
  kv->put("orders.2", "new");
  kv->put("users.2", "bob");  // not watched
  kv->erase("orders.1");
  ASSERT_TRUE(rnats_test::eventually([&] { return rec.size() >= 3; }));
  std::this_thread::sleep_for(100ms);  // a change of users.2 (not watched) would come now
  watch.stop();
  std::lock_guard lock(rec.mu);
  ASSERT_EQ(rec.changes.size(), 3u);
  EXPECT_EQ(rec.changes[0].entry.key, "orders.1");
  EXPECT_EQ(rec.changes[0].entry.value, "new");
  EXPECT_EQ(rec.changes[1].entry.key, "orders.2");
  EXPECT_EQ(rec.changes[1].kind, rnats::Change::Kind::put);
  EXPECT_EQ(rec.changes[2].entry.key, "orders.1");
  EXPECT_EQ(rec.changes[2].kind, rnats::Change::Kind::erase);
  EXPECT_LT(rec.changes[0].entry.revision, rec.changes[1].entry.revision);
  for (const auto& id : rec.threads) {
    EXPECT_EQ(id, rec.threads.front()) << "callbacks ran on several threads";
    EXPECT_NE(id, std::this_thread::get_id());
  }
}

TEST(StateStore, WatchUpdatesOnlyAndIgnoreDeletes) {
  auto conn = rnats_test::connect();
  TempBucket kv(conn);
  kv->put("a", "old");
  Recorder rec;
  auto watch = kv->watch(">", std::ref(rec), {.ignore_deletes = true, .updates_only = true});
  ASSERT_TRUE(watch.wait_caught_up({}, 5s));
  kv->erase("a");
  kv->put("b", "fresh");
  ASSERT_TRUE(rnats_test::eventually([&] { return rec.size() >= 1; }));
  std::this_thread::sleep_for(150ms);  // the erase (ignored) or a replay would come now
  std::lock_guard lock(rec.mu);
  ASSERT_EQ(rec.changes.size(), 1u);
  EXPECT_EQ(rec.changes[0].entry.key, "b");
}

TEST(StateStore, AThrowingWatchCallbackEndsTheWatchWithItsError) {
  auto conn = rnats_test::connect();
  TempBucket kv(conn);
  auto watch = kv->watch(">", [](const rnats::Change&) { throw std::runtime_error("boom"); });
  ASSERT_TRUE(watch.wait_caught_up({}, 5s));
  kv->put("x", "1");
  ASSERT_TRUE(rnats_test::eventually([&] { return watch.error() != nullptr; }));
  EXPECT_THROW(std::rethrow_exception(watch.error()), std::runtime_error);
}

TEST(StateStore, StoppingAWatchIsPrompt) {
  auto conn = rnats_test::connect();
  TempBucket kv(conn);
  auto watch = kv->watch(">", [](const rnats::Change&) {});
  ASSERT_TRUE(watch.wait_caught_up({}, 5s));
  const auto t0 = std::chrono::steady_clock::now();
  watch.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(watch.error(), nullptr);
}

}  // namespace
