#include "reflex/rnats/streams.hpp"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "nats_test.hpp"
#include "reflex/errors.hpp"

namespace {

using namespace std::chrono_literals;
namespace rnats = reflex::rnats;
using rnats_test::TempStream;
using Clock = std::chrono::steady_clock;

TEST(EnsureStream, CreatesThenUpdatesDeclaratively) {
  auto conn = rnats_test::connect();
  const std::string name = reflex_test::unique_name("ENSURE");
  rnats::StreamConfig config{.name = name,
                             .subjects = {name + ".a"},
                             .max_age = 1h,
                             .max_events = 100,
                             .storage = rnats::Storage::memory,
                             .duplicate_window = 30s};
  auto info = rnats::ensure_stream(conn, config);
  EXPECT_EQ(info.name, name);
  EXPECT_EQ(info.last_sequence, 0u);
  // The same declaration again changes nothing; a new subject is added.
  EXPECT_NO_THROW(rnats::ensure_stream(conn, config));
  config.subjects.push_back(name + ".b");
  rnats::ensure_stream(conn, config);
  EXPECT_NO_THROW(rnats::publish(conn, {.subject = name + ".b", .data = "x"}));
  // Storage cannot change: the server's reason comes back as a ConfigError.
  config.storage = rnats::Storage::file;
  EXPECT_THROW(rnats::ensure_stream(conn, config), reflex::ConfigError);
  EXPECT_TRUE(rnats::delete_stream(conn, name));
  EXPECT_FALSE(rnats::delete_stream(conn, name));
  EXPECT_FALSE(rnats::stream_info(conn, name).has_value());
}

TEST(EnsureStream, RejectsBadNamesClearly) {
  auto conn = rnats_test::connect();
  EXPECT_THROW(rnats::ensure_stream(conn, {.name = "a.b"}), reflex::ConfigError);
  EXPECT_THROW(rnats::ensure_stream(conn, {.name = ""}), reflex::ConfigError);
  EXPECT_THROW(rnats::ensure_stream(conn, {.name = "ok", .replicas = 0}), reflex::ConfigError);
}

TEST(Publish, IdempotencyKeyDropsTheDuplicate) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  const auto first = rnats::publish(conn, {.subject = stream.subject(), .idempotency_key = "k1"});
  const auto again = rnats::publish(conn, {.subject = stream.subject(), .idempotency_key = "k1"});
  EXPECT_FALSE(first.duplicate);
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.sequence, first.sequence);
  EXPECT_EQ(first.stream, stream.name());
  EXPECT_EQ(rnats::stream_info(conn, stream.name())->messages, 1u);
}

TEST(Publish, ExpectedLastSequenceIsOptimisticConcurrency) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  const auto one = rnats::publish(conn, {.subject = stream.subject()});
  const auto two =
      rnats::publish(conn, {.subject = stream.subject(), .expected_last_sequence = one.sequence});
  EXPECT_EQ(two.sequence, one.sequence + 1);
  EXPECT_THROW(
      rnats::publish(conn, {.subject = stream.subject(), .expected_last_sequence = one.sequence}),
      rnats::RevisionConflict);
  EXPECT_THROW(rnats::publish(conn, {.subject = stream.subject(), .expected_last_sequence = 0}),
               reflex::ConfigError);
  // Per subject: 0 means "no message on this subject yet".
  EXPECT_NO_THROW(rnats::publish(
      conn, {.subject = stream.subject("fresh"), .expected_last_subject_sequence = 0}));
  EXPECT_THROW(rnats::publish(
                   conn, {.subject = stream.subject("fresh"), .expected_last_subject_sequence = 0}),
               rnats::RevisionConflict);
}

TEST(Publish, UnboundSubjectSaysThereIsNoStreamForIt) {
  auto conn = rnats_test::connect();
  try {
    rnats::publish(conn, {.subject = reflex_test::unique_name("nobody") + ".x", .timeout = 2s});
    FAIL() << "published to a subject without a stream";
  } catch (const rnats::NoStreamForSubject& e) {
    EXPECT_NE(std::string(e.what()).find("no JetStream stream"), std::string::npos) << e.what();
  }
}

TEST(Publish, CarriesHeadersAndTheTimestamp) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  const auto when = std::chrono::system_clock::now() - 1h;
  rnats::publish(conn, {.subject = stream.subject(),
                        .data = "payload",
                        .headers = {{"Custom", "v"}},
                        .timestamp = when});
  rnats::ensure_consumer(conn, {.stream = stream.name(), .name = "reader"});
  rnats::Subscription sub(conn, stream.name(), "reader");
  auto d = sub.next({}, 5s);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->data(), "payload");
  EXPECT_EQ(d->headers().at("Custom"), "v");
  EXPECT_EQ(d->event().timestamp,
            std::chrono::time_point_cast<std::chrono::system_clock::duration>(when));
  EXPECT_EQ(d->attempt(), 1u);
  EXPECT_EQ(d->sequence(), 1u);
  d->ack();
  EXPECT_TRUE(d->finished());
  EXPECT_THROW(d->ack(), reflex::ConfigError);  // twice is a bug in the caller
  EXPECT_THROW(rnats::publish(conn, {.subject = stream.subject(), .headers = {{"bad name", "v"}}}),
               reflex::ConfigError);
}

// Publishes n events "0".."n-1" to the stream.
void fill(const rnats::Connection& conn, const TempStream& stream, int n) {
  for (int i = 0; i < n; ++i)
    rnats::publish(conn, {.subject = stream.subject(), .data = std::to_string(i)});
}

TEST(Consumer, RedeliversAnEventNotAcknowledgedWithinTheProcessingTimeout) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  fill(conn, stream, 1);
  rnats::ensure_consumer(conn,
                         {.stream = stream.name(), .name = "slow", .processing_timeout = 300ms});
  rnats::Subscription sub(conn, stream.name(), "slow");
  auto first = sub.next({}, 5s);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->attempt(), 1u);
  const auto t0 = Clock::now();
  auto again = sub.next({}, 5s);  // nothing acked: it comes back after ~300 ms
  ASSERT_TRUE(again);
  EXPECT_GE(Clock::now() - t0, 200ms);
  EXPECT_EQ(again->sequence(), first->sequence());
  EXPECT_EQ(again->attempt(), 2u);
  again->ack();
  EXPECT_FALSE(sub.next({}, 800ms));  // acknowledged: never again
}

TEST(Consumer, RejectNowRedeliversAtOnceAndRejectWithDelayWaits) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  fill(conn, stream, 1);
  rnats::ensure_consumer(conn, {.stream = stream.name(), .name = "rejecter"});
  rnats::Subscription sub(conn, stream.name(), "rejecter");
  auto d = sub.next({}, 5s);
  ASSERT_TRUE(d);
  d->reject();
  auto now = sub.next({}, 2s);
  ASSERT_TRUE(now);
  EXPECT_EQ(now->attempt(), 2u);
  const auto t0 = Clock::now();
  now->reject({.delay = 700ms});
  EXPECT_FALSE(sub.next({}, 400ms));  // still waiting out the delay
  auto later = sub.next({}, 5s);
  ASSERT_TRUE(later);
  EXPECT_GE(Clock::now() - t0, 600ms);
  EXPECT_EQ(later->attempt(), 3u);
  later->ack();
}

TEST(Consumer, PermanentRejectNeverRedelivers) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  fill(conn, stream, 2);
  rnats::ensure_consumer(conn,
                         {.stream = stream.name(), .name = "term", .processing_timeout = 300ms});
  rnats::Subscription sub(conn, stream.name(), "term");
  auto d = sub.next({}, 5s);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->data(), "0");
  d->reject({.permanently = true});
  auto next = sub.next({}, 5s);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->data(), "1");
  next->ack();
  EXPECT_FALSE(sub.next({}, 1s));  // well past the processing timeout: "0" is gone for good
}

TEST(Consumer, PingExtendsTheProcessingTime) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  fill(conn, stream, 1);
  rnats::ensure_consumer(conn,
                         {.stream = stream.name(), .name = "pinger", .processing_timeout = 400ms});
  rnats::Subscription sub(conn, stream.name(), "pinger");
  auto d = sub.next({}, 5s);
  ASSERT_TRUE(d);
  // Work for 3x the processing timeout, pinging: no redelivery meanwhile.
  for (int i = 0; i < 6; ++i) {
    EXPECT_FALSE(sub.next({}, 200ms)) << "redelivered although pinged";
    d->ping();
  }
  d->ack();
  EXPECT_FALSE(sub.next({}, 800ms));
}

TEST(Consumer, AutomaticPingKeepsSlowWorkFromBeingRedelivered) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  fill(conn, stream, 1);
  rnats::ensure_consumer(conn,
                         {.stream = stream.name(), .name = "auto", .processing_timeout = 400ms});
  rnats::Subscription sub(conn, stream.name(), "auto", {.auto_ping = 100ms});
  auto d = sub.next({}, 5s);
  ASSERT_TRUE(d);
  EXPECT_FALSE(sub.next({}, 1500ms)) << "redelivered although pinged automatically";
  d->ack();
}

TEST(Consumer, SubscribersOfADurableConsumerShareTheWork) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  constexpr int kEvents = 200;
  rnats::ensure_consumer(conn, {.stream = stream.name(), .name = "shared"});
  std::mutex mu;
  std::map<int, std::multiset<std::string>> got;  // subscriber -> events
  std::atomic<int> total{0};
  std::atomic<int> subscribed{0};
  std::vector<std::jthread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&, w](std::stop_token stop) {
      // Each worker has its own connection, as separate processes would.
      auto own = rnats_test::connect();
      rnats::Subscription sub(own, stream.name(), "shared");
      own.flush();  // a round trip: the server has the subscription
      ++subscribed;
      while (!stop.stop_requested()) {
        auto d = sub.next(stop, 100ms);
        if (!d) continue;
        {
          std::lock_guard lock(mu);
          got[w].insert(d->data());
        }
        d->ack();
        ++total;
      }
    });
  }
  ASSERT_TRUE(rnats_test::eventually([&] { return subscribed == 2; }))
      << subscribed << " subscribed";
  fill(conn, stream, kEvents);
  ASSERT_TRUE(rnats_test::eventually([&] { return total.load() >= kEvents; }, 20s));
  std::this_thread::sleep_for(300ms);  // nothing more may come
  workers.clear();
  std::multiset<std::string> all;
  for (const auto& [w, events] : got) all.insert(events.begin(), events.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kEvents));
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), all.size()) << "duplicates";
  EXPECT_GT(got[0].size(), 0u) << "subscriber 0 got nothing";
  EXPECT_GT(got[1].size(), 0u) << "subscriber 1 got nothing";
}

TEST(Consumer, StartsWhereConfiguredAndFiltersSubjects) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  for (int i = 0; i < 4; ++i) {
    rnats::publish(conn, {.subject = stream.subject(i % 2 ? "b" : "a"), .data = std::to_string(i)});
  }
  const auto read_all = [&](const rnats::ConsumerConfig& config) {
    const auto info = rnats::ensure_consumer(conn, config);
    rnats::Subscription sub(conn, stream.name(), info.name);
    std::vector<std::string> out;
    while (auto d = sub.next({}, 300ms)) {
      out.push_back(d->data());
      d->ack();
    }
    return out;
  };
  EXPECT_EQ(read_all({.stream = stream.name(), .name = "all"}),
            (std::vector<std::string>{"0", "1", "2", "3"}));
  EXPECT_EQ(
      read_all(
          {.stream = stream.name(), .name = "seq", .from = rnats::ConsumeFrom::at_sequence(3)}),
      (std::vector<std::string>{"2", "3"}));
  EXPECT_EQ(read_all({.stream = stream.name(), .name = "end", .from = rnats::ConsumeFrom::end()}),
            (std::vector<std::string>{}));
  EXPECT_EQ(read_all({.stream = stream.name(),
                      .name = "future",
                      .from = rnats::ConsumeFrom::at(std::chrono::system_clock::now() + 1h)}),
            (std::vector<std::string>{}));
  EXPECT_EQ(
      read_all({.stream = stream.name(), .name = "onlyb", .filter_subject = stream.subject("b")}),
      (std::vector<std::string>{"1", "3"}));
  // Ephemeral: the server names it.
  EXPECT_EQ(read_all({.stream = stream.name(), .filter_subject = stream.subject("a")}),
            (std::vector<std::string>{"0", "2"}));
}

TEST(Consumer, GivesUpAfterMaxDeliveryAttempts) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  fill(conn, stream, 1);
  rnats::ensure_consumer(conn,
                         {.stream = stream.name(), .name = "twice", .max_delivery_attempts = 2});
  rnats::Subscription sub(conn, stream.name(), "twice");
  std::vector<std::uint64_t> attempts;
  while (auto d = sub.next({}, 700ms)) {
    attempts.push_back(d->attempt());
    d->reject();
  }
  EXPECT_EQ(attempts, (std::vector<std::uint64_t>{1, 2}));
}

TEST(Consumer, MissingConsumersAndStreamsAreNotFound) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  EXPECT_THROW(rnats::Subscription(conn, stream.name(), "nobody"), rnats::NotFound);
  EXPECT_THROW(rnats::ensure_consumer(conn, {.stream = "NO_SUCH_STREAM_Y", .name = "x"}),
               rnats::NotFound);
  EXPECT_FALSE(rnats::consumer_info(conn, stream.name(), "nobody").has_value());
  rnats::ensure_consumer(conn, {.stream = stream.name(), .name = "c1", .processing_timeout = 1s});
  // Updating is declarative too.
  rnats::ensure_consumer(conn, {.stream = stream.name(), .name = "c1", .processing_timeout = 2s});
  EXPECT_TRUE(rnats::consumer_info(conn, stream.name(), "c1")->durable);
  EXPECT_TRUE(rnats::delete_consumer(conn, stream.name(), "c1"));
  EXPECT_FALSE(rnats::delete_consumer(conn, stream.name(), "c1"));
}

}  // namespace
