#include "reflex/mem_log.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>
#include <vector>

#include "reflex/errors.hpp"
#include "reflex_test/streams.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using reflex_test::ids;
using reflex_test::read_to_head;

TEST(MemLog, AssignsSequentialIdsAndKeepsFields) {
  reflex::MemLog log;
  auto a = log.append(3, "user-1", "meta", "trace");
  auto b = log.append(4, "user-2");
  EXPECT_EQ(a.id, "1");
  EXPECT_EQ(b.id, "2");
  EXPECT_EQ(log.size(), 2u);
  auto events = log.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0], a);
  EXPECT_EQ(events[0].metadata, "meta");
  EXPECT_EQ(events[0].trace, "trace");
  EXPECT_EQ(events[1].type, 4);
}

TEST(MemLog, StreamsAfterTheCursorExclusive) {
  reflex::MemLog log;
  for (int i = 0; i < 5; ++i) log.append(1, "f");
  EXPECT_EQ(ids(read_to_head(log.stream_func(), "")),
            (std::vector<std::string>{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(ids(read_to_head(log.stream_func(), "3")), (std::vector<std::string>{"4", "5"}));
  EXPECT_TRUE(read_to_head(log.stream_func(), "5").empty());
}

TEST(MemLog, FromHeadSkipsEverythingAlreadyThere) {
  reflex::MemLog log;
  for (int i = 0; i < 3; ++i) log.append(1, "f");
  auto client = log.stream_func()({}, "", {.from_head = true});
  log.append(1, "new");
  EXPECT_EQ(client->recv().id, "4");
}

TEST(MemLog, ToHeadThrowsHeadReachedWhenNothingMoreIsAvailable) {
  reflex::MemLog log;
  auto client = log.stream_func()({}, "", {.to_head = true});
  EXPECT_THROW((void)client->recv(), reflex::HeadReached);
}

TEST(MemLog, RejectsACursorThatIsNotAnId) {
  reflex::MemLog log;
  EXPECT_THROW((void)log.stream_func()({}, "abc", {}), reflex::CursorError);
  EXPECT_THROW((void)log.stream_func()({}, "-1", {}), reflex::CursorError);
}

TEST(MemLog, AppendWakesABlockedReaderAtOnce) {
  reflex::MemLog log;
  auto client = log.stream_func()({}, "", {});
  auto received = std::async(std::launch::async, [&] {
    auto e = client->recv();
    return std::make_pair(e, Clock::now());
  });
  // Blocked inside recv is not observable: the pause makes it so, which the test is about.
  std::this_thread::sleep_for(50ms);
  const auto appended_at = Clock::now();
  log.append(1, "wake");
  // MemLog never polls: a reader the append failed to wake would wait forever.
  ASSERT_EQ(received.wait_for(5s), std::future_status::ready) << "the append woke no reader";
  auto [event, at] = received.get();
  EXPECT_EQ(event.foreign_id, "wake");
  // Generous: a sanitizer build on a busy 2-core machine takes tens of ms to schedule a thread.
  EXPECT_LT(at - appended_at, 250ms);
}

TEST(MemLog, StopTokenCancelsABlockedRecv) {
  reflex::MemLog log;
  std::stop_source stop;
  auto client = log.stream_func()(stop.get_token(), "", {});
  auto result = std::async(std::launch::async, [&] {
    try {
      (void)client->recv();
    } catch (const reflex::Canceled&) {
      return true;
    }
    return false;
  });
  std::this_thread::sleep_for(20ms);  // let it block inside recv (not observable)
  stop.request_stop();
  ASSERT_EQ(result.wait_for(1s), std::future_status::ready);
  EXPECT_TRUE(result.get());
}

TEST(MemLog, StopStreamsEndsOpenStreamsWithStopped) {
  reflex::MemLog log;
  auto client = log.stream_func()({}, "", {});
  auto result = std::async(std::launch::async, [&] { (void)client->recv(); });
  std::this_thread::sleep_for(20ms);  // let it block inside recv (not observable)
  log.stop_streams();
  ASSERT_EQ(result.wait_for(1s), std::future_status::ready);
  EXPECT_THROW(result.get(), reflex::Stopped);
  // A new stream works as before.
  log.append(1, "after");
  EXPECT_EQ(log.stream_func()({}, "", {})->recv().foreign_id, "after");
}

TEST(MemLog, LagHoldsBackYoungEvents) {
  reflex::MemLog log;
  log.append(reflex::Event{
      .type = 1, .foreign_id = "old", .timestamp = std::chrono::system_clock::now() - 1h});
  log.append(1, "young");
  // With to_head, a young event counts as not yet available.
  EXPECT_EQ(ids(read_to_head(log.stream_func(), "", {.lag = 10min})),
            (std::vector<std::string>{"1"}));
  // Without to_head, it is delivered once it is old enough.
  auto client = log.stream_func()({}, "1", {.lag = 200ms});
  const auto start = Clock::now();
  EXPECT_EQ(client->recv().foreign_id, "young");
  EXPECT_GE(Clock::now() - start, 100ms);
}

TEST(MemLog, RemainingCountsEventsNotYetRead) {
  reflex::MemLog log;
  for (int i = 0; i < 4; ++i) log.append(1, "f");
  auto client = log.stream_func()({}, "1", {});
  EXPECT_EQ(client->remaining(), 3u);
  (void)client->recv();
  EXPECT_EQ(client->remaining(), 2u);
}

TEST(MemLog, ConcurrentAppendsReachEveryReaderOnceInOrder) {
  reflex::MemLog log;
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 2000;
  constexpr int kTotal = kWriters * kPerWriter;
  constexpr int kReaders = 3;

  std::vector<std::future<std::vector<reflex::Event>>> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.push_back(std::async(std::launch::async, [&] {
      auto client = log.stream_func()({}, "", {});
      std::vector<reflex::Event> seen;
      while (seen.size() < static_cast<std::size_t>(kTotal)) seen.push_back(client->recv());
      return seen;
    }));
  }
  {
    std::vector<std::jthread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        for (int i = 0; i < kPerWriter; ++i)
          log.append(w, std::to_string(w) + ":" + std::to_string(i));
      });
    }
  }
  const auto all = log.events();
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kTotal));
  for (auto& reader : readers) {
    ASSERT_EQ(reader.wait_for(10s), std::future_status::ready);
    auto seen = reader.get();
    ASSERT_EQ(seen.size(), all.size());
    for (std::size_t i = 0; i < seen.size(); ++i) {
      ASSERT_EQ(seen[i], all[i]) << "at position " << i;
      ASSERT_EQ(seen[i].id, std::to_string(i + 1));
    }
  }
  // Each writer's events appear in the order it wrote them, none lost or duplicated.
  std::set<std::string> distinct;
  for (const auto& e : all) distinct.insert(e.foreign_id);
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kTotal));
}

}  // namespace
