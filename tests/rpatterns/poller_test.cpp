#include "reflex/rpatterns/poller.hpp"

#include <gtest/gtest.h>

#include <future>

#include "helpers.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"
#include "reflex/run.hpp"

namespace {

using namespace rpatterns_test;
namespace rp = reflex::rpatterns;

/// A paginated API over a MemLog: pages of `page` events after a cursor; counts calls.
struct PagedApi {
  reflex::MemLog log;
  std::size_t page = 3;
  std::atomic<int> calls{0};

  rp::FetchFunc fetch() {
    return [this](std::stop_token, std::string_view after) {
      ++calls;
      const auto from =
          after.empty() ? 0 : static_cast<std::size_t>(std::stoll(std::string(after)));
      return log.events(from + 1, page);
    };
  }
};

TEST(Poller, StreamsEveryPageInOrder) {
  PagedApi api;
  for (int i = 0; i < 10; ++i) api.log.append(1, "f");
  auto store = std::make_shared<DurableStore>();
  std::vector<std::string> seen;
  reflex::Spec spec{.stream = rp::poller(api.fetch()),
                    .cursors = store,
                    .consumer = reflex::make_consumer(
                        "polled", [&](const reflex::Event& e) { seen.push_back(e.id); }),
                    .options = {.to_head = true}};
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(seen, range_ids(1, 10));
  EXPECT_EQ(api.calls.load(), 5);  // 4 pages (3+3+3+1) and the empty one that means head
  EXPECT_EQ(store->durable("polled"), "10");
}

TEST(Poller, BacksOffWhileIdleAndPicksUpNewEvents) {
  PagedApi api;
  auto stream =
      rp::poller(api.fetch(), {.idle_backoff = 20ms, .max_idle_backoff = 40ms, .head = {}});
  std::stop_source stop;
  auto client = stream(stop.get_token(), "", {});
  std::vector<std::string> got;
  std::jthread reader([&] {
    try {
      for (;;) got.push_back(client->recv().id);
    } catch (const reflex::Canceled&) {
    }
  });
  std::this_thread::sleep_for(300ms);  // the idle window whose polls are counted
  // Waits of 20, 40, 40, ... ms: about 8 polls in 300 ms, nowhere near a tight loop.
  const int idle_calls = api.calls.load();
  EXPECT_GE(idle_calls, 4);
  EXPECT_LE(idle_calls, 12);
  api.log.append(1, "f");
  ASSERT_TRUE(eventually([&] { return api.calls.load() > idle_calls + 1; }));
  const auto start = Clock::now();
  stop.request_stop();
  reader.join();
  EXPECT_LT(Clock::now() - start, 500ms);  // the idle wait wakes on stop
  EXPECT_EQ(got, (std::vector<std::string>{"1"}));
}

TEST(Poller, FromHeadSkipsHistoryWithOrWithoutAHeadFunction) {
  for (const bool with_head : {false, true}) {
    SCOPED_TRACE(with_head ? "head function" : "paging to the end");
    PagedApi api;
    for (int i = 0; i < 7; ++i) api.log.append(1, "old");
    rp::PollerOptions options{.idle_backoff = 5ms, .max_idle_backoff = 5ms, .head = {}};
    if (with_head) {
      options.head = [&](std::stop_token) { return std::to_string(api.log.size()); };
    }
    auto stream = rp::poller(api.fetch(), options);
    auto client = stream({}, "", {.from_head = true});
    api.log.append(1, "new");
    EXPECT_EQ(client->recv().id, "8");
  }
}

TEST(Poller, FetchErrorsEndTheStream) {
  auto stream = rp::poller([](std::stop_token, std::string_view) -> std::vector<reflex::Event> {
    throw reflex::Unavailable("api is down");
  });
  auto client = stream({}, "", {});
  EXPECT_THROW((void)client->recv(), reflex::Unavailable);
}

TEST(Poller, APageThatRepeatsTheCursorIsACursorError) {
  auto stream = rp::poller([](std::stop_token, std::string_view) -> std::vector<reflex::Event> {
    return {reflex::Event{.id = "5"}};  // ignores `after`
  });
  auto client = stream({}, "", {});
  EXPECT_EQ(client->recv().id, "5");
  try {
    (void)client->recv();
    FAIL() << "expected CursorError";
  } catch (const reflex::CursorError& e) {
    EXPECT_NE(std::string(e.what()).find("exclusive"), std::string::npos) << e.what();
  }
}

TEST(Poller, RejectsAZeroIdleBackoff) {
  EXPECT_THROW((void)rp::poller(
                   [](std::stop_token, std::string_view) { return std::vector<reflex::Event>{}; },
                   {.idle_backoff = 0ms, .max_idle_backoff = 1s, .head = {}}),
               reflex::ConfigError);
}

}  // namespace
