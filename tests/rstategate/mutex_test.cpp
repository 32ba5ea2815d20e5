// MutexService on both backends: Lock / Unlock, ALREADY_EXISTS while held, NOT_FOUND for a lock
// not held, a crashed holder's lock expiring, and 8 contenders of which exactly one holds the
// lock at any time (also when they race for one lock that just expired).

#include <atomic>
#include <latch>
#include <mutex>

#include "stategate_test.hpp"

namespace {

using namespace rstategate_test;

class MutexTest : public StategateTest {
 protected:
  static grpc::Status lock(sg::MutexService::Stub& stub, const std::string& key,
                           std::optional<std::chrono::system_clock::time_point> exp = {}) {
    sg::Mutex req;
    req.set_domain("acme");
    req.set_key(key);
    if (exp) set_time(req.mutable_exp(), *exp);
    google::protobuf::Empty empty;
    return stub.Lock(context().get(), req, &empty);
  }
  static grpc::Status unlock(sg::MutexService::Stub& stub, const std::string& key) {
    sg::MutexRef ref;
    ref.set_domain("acme");
    ref.set_key(key);
    google::protobuf::Empty empty;
    return stub.Unlock(context().get(), ref, &empty);
  }

  std::unique_ptr<sg::MutexService::Stub> stub = server.mutex();
};

TEST_P(MutexTest, LockIsExclusiveUntilUnlockAndUnlockOfAFreeLockIsNotFound) {
  EXPECT_EQ(unlock(*stub, "ledger").error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(lock(*stub, "ledger").ok());
  const auto again = lock(*stub, "ledger");
  EXPECT_EQ(again.error_code(), grpc::StatusCode::ALREADY_EXISTS) << again.error_message();
  EXPECT_TRUE(lock(*stub, "other").ok());  // another key is another lock
  ASSERT_TRUE(unlock(*stub, "ledger").ok());
  EXPECT_EQ(unlock(*stub, "ledger").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(lock(*stub, "ledger").ok());
}

TEST_P(MutexTest, ACrashedHoldersLockExpiresAndIsTakenOver) {
  const auto exp = std::chrono::system_clock::now() + 400ms;
  ASSERT_TRUE(lock(*stub, "job", exp).ok());  // the holder never unlocks
  EXPECT_EQ(lock(*stub, "job").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  // Taken over once expired, and not before.
  ASSERT_TRUE(reflex_test::eventually(
      [&] {
        const auto asked = std::chrono::system_clock::now();
        const auto status = lock(*stub, "job", asked + 30s);
        if (status.ok()) {
          EXPECT_GE(std::chrono::system_clock::now(), exp);  // taken only once expired
        } else {
          EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
        }
        return status.ok();
      },
      5s));
  EXPECT_GE(std::chrono::system_clock::now(), exp);
  EXPECT_EQ(lock(*stub, "job").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  // An expired lock is not held: unlocking it is NOT_FOUND.
  ASSERT_TRUE(unlock(*stub, "job").ok());
  ASSERT_TRUE(lock(*stub, "short", std::chrono::system_clock::now() + 300ms).ok());
  ASSERT_TRUE(reflex_test::eventually(
      [&] { return unlock(*stub, "short").error_code() == grpc::StatusCode::NOT_FOUND; }, 5s));
}

TEST_P(MutexTest, EightContendersHoldTheLockOneAtATime) {
  constexpr int kContenders = 8;
  constexpr int kRoundsEach = 3;
  std::atomic<int> holders{0};
  std::atomic<int> most{0};
  std::atomic<int> acquired{0};
  std::atomic<int> failures{0};
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  std::latch start(kContenders);
  std::vector<std::thread> threads;
  for (int c = 0; c < kContenders; ++c) {
    threads.emplace_back([&] {
      // Each contender a client of its own.
      const auto mine = sg::MutexService::NewStub(server.other_channel());
      start.arrive_and_wait();
      int rounds = 0;
      while (rounds < kRoundsEach && std::chrono::steady_clock::now() < deadline) {
        const auto status = lock(*mine, "contended", std::chrono::system_clock::now() + 30s);
        if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
          std::this_thread::yield();
          continue;
        }
        if (!status.ok()) {
          ++failures;
          continue;
        }
        const int now = ++holders;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(2ms);  // hold it a while, so others try meanwhile
        --holders;
        if (!unlock(*mine, "contended").ok()) ++failures;
        ++acquired;
        ++rounds;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(most.load(), 1);
  EXPECT_EQ(acquired.load(), kContenders * kRoundsEach) << "not done within 30 s";
  EXPECT_EQ(failures.load(), 0);
}

TEST_P(MutexTest, EightContendersForOneExpiredLockMakeOneWinner) {
  constexpr int kContenders = 8;
  for (int trial = 0; trial < 5; ++trial) {
    const std::string key = "expired-" + std::to_string(trial);
    const auto exp = std::chrono::system_clock::now() + 200ms;
    ASSERT_TRUE(lock(*stub, key, exp).ok());
    ASSERT_TRUE(
        reflex_test::eventually([&] { return std::chrono::system_clock::now() > exp; }, 2s));
    std::latch start(kContenders);
    std::atomic<int> winners{0};
    std::atomic<int> refused{0};
    std::mutex others_mutex;
    std::string others;  // any other answer, to say what it was
    std::vector<std::thread> threads;
    for (int c = 0; c < kContenders; ++c) {
      threads.emplace_back([&] {
        const auto mine = sg::MutexService::NewStub(server.other_channel());
        start.arrive_and_wait();
        const auto status = lock(*mine, key, std::chrono::system_clock::now() + 30s);
        if (status.ok()) {
          ++winners;
        } else if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
          ++refused;
        } else {
          std::lock_guard guard(others_mutex);
          others +=
              " [" + std::to_string(status.error_code()) + ": " + status.error_message() + "]";
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(winners.load(), 1) << "trial " << trial << others;
    EXPECT_EQ(refused.load(), kContenders - 1) << "trial " << trial << "; other answers:" << others;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, MutexTest, ::testing::Values(Backend::memory, Backend::nats),
                         backend_name);

}  // namespace
