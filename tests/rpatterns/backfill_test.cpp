#include "reflex/rpatterns/backfill.hpp"

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"

namespace {

using namespace rpatterns_test;
namespace rp = reflex::rpatterns;

struct Fixture : LogAndStore {
  using LogAndStore::LogAndStore;
  std::vector<reflex::Event> seen;

  reflex::Spec spec(reflex::ConsumeFunc fn = {}) {
    if (!fn) fn = [this](std::stop_token, const reflex::Event& e) { seen.push_back(e); };
    return {.stream = log.stream_func(),
            .cursors = store,
            .consumer = reflex::make_consumer("backfiller", std::move(fn))};
  }
};

TEST(Backfill, ConsumesToTheHeadAndSummarisesEventsDurationAndCursor) {
  Fixture f(100);
  f.store->seed("backfiller", "20");
  const auto summary = rp::backfill({}, f.spec());
  EXPECT_TRUE(summary.reached_head);
  EXPECT_EQ(summary.events, 80u);
  EXPECT_EQ(summary.cursor, "100");
  EXPECT_GT(summary.duration.count(), 0);
  EXPECT_EQ(ids(f.seen), range_ids(21, 100));
  EXPECT_EQ(f.store->durable("backfiller"), "100");
}

TEST(Backfill, ReportsProgressWithTheRemainingCountOfTheSource) {
  Fixture f(50);
  std::vector<rp::BackfillProgress> reports;
  const auto summary =
      rp::backfill({}, f.spec(),
                   {.on_progress = [&](const rp::BackfillProgress& p) { reports.push_back(p); },
                    .progress_interval = 0ms});
  ASSERT_EQ(reports.size(), 51u);  // one per event, then the final one
  for (std::size_t i = 0; i < 50; ++i) {
    EXPECT_EQ(reports[i].events, i + 1);
    ASSERT_TRUE(reports[i].remaining.has_value());
    EXPECT_EQ(*reports[i].remaining, 50 - (i + 1));  // MemLog knows what is left
    EXPECT_EQ(reports[i].cursor, std::to_string(i + 1));
  }
  const auto& last = reports.back();
  EXPECT_EQ(last.events, summary.events);
  EXPECT_EQ(last.remaining, std::optional<std::uint64_t>(0));
  EXPECT_GT(last.events_per_second, 0.0);
  EXPECT_TRUE(last.eta.has_value());
}

TEST(Backfill, ReportsAtMostOncePerInterval) {
  Fixture f(200);
  int reports = 0;
  (void)rp::backfill(
      {}, f.spec(),
      {.on_progress = [&](const rp::BackfillProgress&) { ++reports; }, .progress_interval = 1h});
  EXPECT_EQ(reports, 1);  // only the final report
}

TEST(Backfill, AStopRequestEndsItEarlyWithoutReachingHead) {
  Fixture f(30);
  std::stop_source stop;
  auto spec = f.spec([&](std::stop_token, const reflex::Event& e) {
    f.seen.push_back(e);
    if (e.id == "10") stop.request_stop();
  });
  const auto summary = rp::backfill(stop.get_token(), spec);
  EXPECT_FALSE(summary.reached_head);
  EXPECT_EQ(summary.events, 10u);
  EXPECT_EQ(summary.cursor, "10");
  // Calling it again resumes after the cursor.
  f.seen.clear();
  const auto rest = rp::backfill({}, f.spec());
  EXPECT_TRUE(rest.reached_head);
  EXPECT_EQ(ids(f.seen), range_ids(11, 30));
}

TEST(Backfill, RethrowsConsumerErrorsKeepingTheProgress) {
  Fixture f(10);
  auto spec = f.spec([&](std::stop_token, const reflex::Event& e) {
    if (e.id == "7") throw std::runtime_error("bad row");
  });
  EXPECT_THROW((void)rp::backfill({}, spec), reflex::ConsumeError);
  EXPECT_EQ(f.store->durable("backfiller"), "6");
}

TEST(Backfill, AnEmptySourceReachesHeadAtOnce) {
  Fixture f(0);
  const auto summary = rp::backfill({}, f.spec());
  EXPECT_TRUE(summary.reached_head);
  EXPECT_EQ(summary.events, 0u);
  EXPECT_EQ(summary.cursor, "");
}

}  // namespace
