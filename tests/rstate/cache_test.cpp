// CacheTable and MutexTable on a real database of each dialect: expiry, replacement, and one
// holder at a time among concurrent contenders.

#include "reflex/rstate/cache.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "backend.hpp"
#include "reflex/rsql/errors.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test::rstate {
namespace {

using namespace std::chrono_literals;
using reflex::rstate::CacheTable;
using reflex::rstate::Clock;
using reflex::rstate::MutexTable;

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_schema_.table = unique_name("cache");
    mutexes_schema_.table = unique_name("mutexes");
    const auto dialect = backend_->dialect();
    backend_->database()->execute(reflex::rstate::cache_ddl(dialect, cache_schema_) + ";\n" +
                                  reflex::rstate::mutexes_ddl(dialect, mutexes_schema_));
  }
  void TearDown() override {
    try {
      backend_->database()->execute("DROP TABLE " + cache_schema_.table + ";\nDROP TABLE " +
                                    mutexes_schema_.table);
    } catch (...) {
    }
  }

  std::unique_ptr<Backend> backend_ = make_backend();
  reflex::rstate::CacheSchema cache_schema_;
  reflex::rstate::MutexesSchema mutexes_schema_;
};

TEST_F(CacheTest, AValueIsKeptUntilItExpiresAndThenIsGone) {
  const CacheTable cache(backend_->database(), cache_schema_);
  const auto expires = Clock::now() + 400ms;
  cache.set("shop", "session-1", "bytes\x01\x02", expires);
  cache.set("shop", "forever", "kept", std::nullopt);
  auto got = cache.get("shop", "session-1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->first, "bytes\x01\x02");
  ASSERT_TRUE(got->second);
  EXPECT_LT(std::chrono::abs(*got->second - expires), 1ms);
  std::this_thread::sleep_until(expires + 50ms);
  EXPECT_FALSE(cache.get("shop", "session-1"));
  EXPECT_FALSE(cache.erase("shop", "session-1")) << "the expired row was not deleted when met";
  got = cache.get("shop", "forever");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->first, "kept");
  EXPECT_FALSE(got->second);
}

TEST_F(CacheTest, SetReplacesAValueAndEraseRemovesIt) {
  const CacheTable cache(backend_->database(), cache_schema_);
  cache.set("shop", "k", "one", Clock::now() + 1h);
  cache.set("shop", "k", "two", std::nullopt);
  EXPECT_EQ(cache.get("shop", "k")->first, "two");
  EXPECT_FALSE(cache.get("shop", "k")->second);
  EXPECT_FALSE(cache.get("other", "k"));
  EXPECT_TRUE(cache.erase("shop", "k"));
  EXPECT_FALSE(cache.erase("shop", "k"));
  EXPECT_FALSE(cache.get("shop", "k"));
}

TEST_F(CacheTest, AMissingTableIsASchemaErrorNamingTheDdlHelper) {
  const CacheTable cache(backend_->database(), {.table = unique_name("absent")});
  try {
    (void)cache.get("d", "k");
    FAIL() << "no error";
  } catch (const reflex::rsql::SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("cache_ddl"), std::string::npos) << e.what();
  }
}

TEST_F(CacheTest, ALockIsHeldUntilUnlockedOrExpired) {
  const MutexTable mutexes(backend_->database(), mutexes_schema_);
  EXPECT_TRUE(mutexes.lock("shop", "order-1", std::nullopt));
  EXPECT_FALSE(mutexes.lock("shop", "order-1", Clock::now() + 1h));
  EXPECT_TRUE(mutexes.lock("shop", "order-2", Clock::now() + 1h)) << "another key is free";
  EXPECT_TRUE(mutexes.unlock("shop", "order-1"));
  EXPECT_FALSE(mutexes.unlock("shop", "order-1"));
  // A holder that never unlocks (it crashed): its lock ends at its expiry.
  const auto expires = Clock::now() + 300ms;
  EXPECT_TRUE(mutexes.lock("shop", "order-1", expires));
  EXPECT_FALSE(mutexes.lock("shop", "order-1", std::nullopt));
  std::this_thread::sleep_until(expires + 50ms);
  EXPECT_FALSE(mutexes.unlock("shop", "order-1")) << "an expired lock is not held";
  EXPECT_TRUE(mutexes.lock("shop", "order-1", Clock::now() + 1h));
}

TEST_F(CacheTest, EightContendersHoldTheLockOneAtATime) {
  const MutexTable mutexes(backend_->database(), mutexes_schema_);
  std::atomic<int> holders{0};
  std::atomic<int> most{0};
  std::atomic<int> taken{0};
  std::atomic<int> errors{0};
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::vector<std::thread> contenders;
  for (int c = 0; c < 8; ++c) {
    contenders.emplace_back([&] {
      while (taken.load() < 40 && std::chrono::steady_clock::now() < deadline) {
        try {
          if (!mutexes.lock("shop", "the-one", Clock::now() + 10s)) continue;
          const int now = ++holders;
          int seen = most.load();
          while (now > seen && !most.compare_exchange_weak(seen, now)) {
          }
          std::this_thread::sleep_for(1ms);
          --holders;
          ++taken;
          if (!mutexes.unlock("shop", "the-one")) ++errors;
        } catch (const std::exception& e) {
          ++errors;
          ADD_FAILURE() << e.what();
          return;
        }
      }
    });
  }
  for (auto& t : contenders) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(most.load(), 1) << "two contenders held the lock at once";
  EXPECT_GE(taken.load(), 40) << "the lock was not taken often enough within 5 s";
}

}  // namespace
}  // namespace reflex_test::rstate
