#include "reflex/rpatterns/batch.hpp"

#include <gtest/gtest.h>

#include <future>

#include "helpers.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"

namespace {

using namespace rpatterns_test;
namespace rp = reflex::rpatterns;

/// Batches seen by a batch function, as id lists; thread-safe.
struct Batches {
  std::mutex mu;
  std::vector<std::vector<std::string>> all;
  void add(std::span<const reflex::Event> batch) {
    std::vector<std::string> b;
    for (const auto& e : batch) b.push_back(e.id);
    std::lock_guard lock(mu);
    all.push_back(std::move(b));
  }
  std::vector<std::vector<std::string>> get() {
    std::lock_guard lock(mu);
    return all;
  }
};

using IdBatches = std::vector<std::vector<std::string>>;

TEST(BatchSpec, DeliversBatchesBySizeAndTheLastPartialOneAtHead) {
  reflex::MemLog log;
  for (int i = 0; i < 10; ++i) log.append(1, "f");
  auto store = std::make_shared<DurableStore>();
  Batches batches;
  auto spec =
      rp::batch_spec(log.stream_func(), store, "batcher",
                     [&](std::stop_token, std::span<const reflex::Event> b) { batches.add(b); },
                     {.max_size = 3, .window = 0ms, .filter = {}, .stream = {.to_head = true}});
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(batches.get(), (IdBatches{{"1", "2", "3"}, {"4", "5", "6"}, {"7", "8", "9"}, {"10"}}));
  EXPECT_EQ(store->durable("batcher"), "10");
  EXPECT_EQ(store->flushes() >= 4, true);
}

TEST(BatchSpec, AcksEachBatchOnlyAfterItSucceeded) {
  reflex::MemLog log;
  for (int i = 0; i < 6; ++i) log.append(1, "f");
  auto store = std::make_shared<DurableStore>();
  std::vector<std::string> durable_at_call;
  auto spec =
      rp::batch_spec(log.stream_func(), store, "batcher",
                     [&](std::stop_token, std::span<const reflex::Event>) {
                       durable_at_call.push_back(store->durable("batcher"));
                     },
                     {.max_size = 2, .window = 0ms, .filter = {}, .stream = {.to_head = true}});
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(durable_at_call, (std::vector<std::string>{"", "2", "4"}));
  EXPECT_EQ(store->durable("batcher"), "6");
}

TEST(BatchSpec, RetriesAFailedBatchFromTheLastAckedCursor) {
  reflex::MemLog log;
  for (int i = 0; i < 9; ++i) log.append(1, "f" + std::to_string(i + 1));
  auto store = std::make_shared<DurableStore>();
  Batches batches;
  std::atomic<int> failures{0};
  auto spec =
      rp::batch_spec(log.stream_func(), store, "batcher",
                     [&](std::stop_token, std::span<const reflex::Event> b) {
                       batches.add(b);
                       if (b.front().id == "4" && failures.fetch_add(1) == 0) {
                         throw reflex::Unavailable("warehouse is down");
                       }
                     },
                     {.max_size = 3, .window = 0ms, .filter = {}, .stream = {.to_head = true}});
  try {
    reflex::run({}, spec);
    FAIL() << "expected the batch failure";
  } catch (const reflex::ConsumeError& e) {
    EXPECT_EQ(e.consumer(), "batcher");
    EXPECT_EQ(e.event_id(), "4");  // the failed batch's first event
    EXPECT_EQ(e.foreign_id(), "f4");
    EXPECT_TRUE(e.retryable());
    EXPECT_NE(std::string(e.what()).find("warehouse is down"), std::string::npos);
  }
  EXPECT_EQ(store->durable("batcher"), "3");
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(store->durable("batcher"), "9");
  const auto all = batches.get();
  ASSERT_GE(all.size(), 4u);
  EXPECT_EQ(all[0], (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(all[1], (std::vector<std::string>{"4", "5", "6"}));
  // The second run starts with the failed batch again, then the rest.
  const IdBatches second(all.end() - 2, all.end());
  EXPECT_EQ(second, (IdBatches{{"4", "5", "6"}, {"7", "8", "9"}}));
}

TEST(BatchSpec, HandsOverAPartialBatchWhenTheWindowPasses) {
  reflex::MemLog log;
  log.append(1, "a");
  log.append(1, "b");
  auto store = std::make_shared<DurableStore>();
  Batches batches;
  auto spec =
      rp::batch_spec(log.stream_func(), store, "batcher",
                     [&](std::stop_token, std::span<const reflex::Event> b) { batches.add(b); },
                     {.max_size = 100, .window = 50ms, .filter = {}, .stream = {}});
  std::stop_source stop;
  const auto start = Clock::now();
  std::jthread runner([&] { reflex::run(stop.get_token(), spec); });
  // No third event comes: only the window can hand the batch over.
  ASSERT_TRUE(eventually([&] { return store->durable("batcher") == "2"; }));
  EXPECT_GE(Clock::now() - start, 50ms);
  EXPECT_EQ(batches.get(), (IdBatches{{"1", "2"}}));
  log.append(1, "c");
  ASSERT_TRUE(eventually([&] { return store->durable("batcher") == "3"; }));
  EXPECT_EQ(batches.get(), (IdBatches{{"1", "2"}, {"3"}}));
  stop.request_stop();
}

TEST(BatchSpec, AFailedTimerBatchEndsTheRunWithoutWaitingForAnotherEvent) {
  reflex::MemLog log;
  log.append(1, "a");
  auto store = std::make_shared<DurableStore>();
  auto spec = rp::batch_spec(log.stream_func(), store, "batcher",
                             [&](std::stop_token, std::span<const reflex::Event>) {
                               throw std::runtime_error("cannot write batch");
                             },
                             {.max_size = 0, .window = 30ms, .filter = {}, .stream = {}});
  auto done = std::async(std::launch::async, [&] { reflex::run({}, spec); });
  // The run is blocked in recv (no further event); the timer's failure must still end it.
  ASSERT_EQ(done.wait_for(3s), std::future_status::ready);
  try {
    done.get();
    FAIL() << "expected the batch failure";
  } catch (const reflex::ConsumeError& e) {
    EXPECT_EQ(e.event_id(), "1");
    EXPECT_NE(std::string(e.what()).find("cannot write batch"), std::string::npos);
  }
  EXPECT_EQ(store->durable("batcher"), "");
}

TEST(BatchSpec, FilteredEventsAreAckedWithTheNextBatch) {
  reflex::MemLog log;
  for (int i = 1; i <= 8; ++i) log.append(i % 2, "f");  // odd ids have type 1
  auto store = std::make_shared<DurableStore>();
  Batches batches;
  auto spec =
      rp::batch_spec(log.stream_func(), store, "batcher",
                     [&](std::stop_token, std::span<const reflex::Event> b) { batches.add(b); },
                     {.max_size = 2,
                      .window = 0ms,
                      .filter = [](const reflex::Event& e) { return e.type == 1; },
                      .stream = {.to_head = true}});
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(batches.get(), (IdBatches{{"1", "3"}, {"5", "7"}}));
  // The skipped last event moves the cursor too once everything before it is done.
  EXPECT_EQ(store->durable("batcher"), "8");
}

TEST(BatchSpec, AStoppedRunDropsUnackedEventsForTheNextRun) {
  reflex::MemLog log;
  log.append(1, "a");
  auto store = std::make_shared<DurableStore>();
  Batches batches;
  auto source = std::make_shared<SourceLog>();
  auto spec =
      rp::batch_spec(recorded(log.stream_func(), source), store, "batcher",
                     [&](std::stop_token, std::span<const reflex::Event> b) { batches.add(b); },
                     {.max_size = 10, .window = 0ms, .filter = {}, .stream = {}});
  std::stop_source stop;
  std::jthread runner([&] { reflex::run(stop.get_token(), spec); });
  // Event 1 is read, so it waits in an open batch that nothing will fill.
  EXPECT_TRUE(eventually([&] { return source->received == 1; })) << "event 1 was not read";
  stop.request_stop();
  runner.join();
  EXPECT_TRUE(batches.get().empty());
  EXPECT_EQ(store->durable("batcher"), "");
  spec.options.to_head = true;
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(batches.get(), (IdBatches{{"1"}}));
}

TEST(BatchSpec, RejectsOptionsWithoutALimit) {
  reflex::MemLog log;
  auto fn = [](std::stop_token, std::span<const reflex::Event>) {};
  try {
    (void)rp::batch_spec(log.stream_func(), std::make_shared<DurableStore>(), "b", fn, {});
    FAIL() << "expected ConfigError";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("max_size"), std::string::npos) << e.what();
  }
}

TEST(BatchSpec, RefusesToRunTwiceAtOnce) {
  reflex::MemLog log;
  auto source = std::make_shared<SourceLog>();
  auto spec = rp::batch_spec(recorded(log.stream_func(), source), std::make_shared<DurableStore>(),
                             "batcher", [](std::stop_token, std::span<const reflex::Event>) {},
                             {.max_size = 2, .window = 0ms, .filter = {}, .stream = {}});
  std::stop_source stop;
  std::jthread first([&] { reflex::run(stop.get_token(), spec); });
  ASSERT_TRUE(eventually([&] { return source->opened == 1; }));
  // A second run must be refused, not corrupt the first; if it were not, stopping ends it.
  auto second = std::async(std::launch::async, [&] { reflex::run(stop.get_token(), spec); });
  ASSERT_EQ(second.wait_for(2s), std::future_status::ready);
  EXPECT_THROW(second.get(), reflex::ConfigError);
  stop.request_stop();
}

}  // namespace
