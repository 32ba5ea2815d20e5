#include "reflex/rnats/source.hpp"

#include <gtest/gtest.h>

#include <future>
#include <thread>
#include <vector>

#include "nats_test.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_cursor_store.hpp"
#include "reflex/run.hpp"
#include "reflex_test/streams.hpp"

namespace {

using namespace std::chrono_literals;
namespace rnats = reflex::rnats;
using reflex_test::ids;
using reflex_test::read_to_head;
using rnats_test::TempStream;

std::uint64_t publish(const rnats::Connection& conn, const std::string& subject,
                      std::string data = "d") {
  return rnats::publish(conn, {.subject = subject, .data = std::move(data)}).sequence;
}

TEST(JetStreamSource, StreamsEveryMessageAfterTheCursorInOrder) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  for (int i = 0; i < 20; ++i) publish(conn, stream.subject(), std::to_string(i));
  auto source = rnats::stream_func(conn, {.stream = stream.name()});

  std::vector<std::string> expected;
  for (int i = 6; i <= 20; ++i) expected.push_back(std::to_string(i));
  EXPECT_EQ(ids(read_to_head(source, "5")), expected);
  EXPECT_EQ(read_to_head(source, "").size(), 20u);
  EXPECT_TRUE(read_to_head(source, "20").empty());
}

TEST(JetStreamSource, MapsEventFieldsFromTheRelayHeaders) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  const auto when =
      std::chrono::system_clock::time_point(std::chrono::nanoseconds(1'700'000'000'123'456'789));
  const reflex::Event original{.id = "42",
                               .type = 7,
                               .foreign_id = "user 1/é%",
                               .timestamp = when,
                               .metadata = std::string("m\0eta", 5),
                               .trace = "00-abc-def-01"};
  rnats::publish(conn, rnats::event_message(stream.subject(), original));
  publish(conn, stream.subject("plain"), "raw");

  auto client = rnats::stream_func(conn, {.stream = stream.name()})({}, "", {});
  const reflex::Event got = client->recv();
  EXPECT_EQ(got.id, "1");
  EXPECT_EQ(got.type, 7);
  EXPECT_EQ(got.foreign_id, "user 1/é%");
  EXPECT_EQ(got.timestamp, when);
  EXPECT_EQ(got.metadata, std::string("m\0eta", 5));
  EXPECT_EQ(got.trace, "00-abc-def-01");

  const reflex::Event plain = client->recv();
  EXPECT_EQ(plain.id, "2");
  EXPECT_EQ(plain.type, 0);
  EXPECT_EQ(plain.metadata, "raw");
  EXPECT_LT(std::chrono::system_clock::now() - plain.timestamp, 1min);
}

TEST(JetStreamSource, ToHeadEndsAtOnceWhenNothingIsPending) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  auto source = rnats::stream_func(conn, {.stream = stream.name()});
  EXPECT_TRUE(read_to_head(source, "").empty());  // empty stream
  publish(conn, stream.subject());
  publish(conn, stream.subject());
  EXPECT_TRUE(read_to_head(source, "2").empty());  // cursor at the head

  // A filter that matches nothing: the consumer says nothing is pending.
  auto filtered =
      rnats::stream_func(conn, {.stream = stream.name(), .filter_subject = stream.subject("none")});
  EXPECT_TRUE(read_to_head(filtered, "").empty());
}

TEST(JetStreamSource, ToHeadEndsAfterTheLastPendingMessageAndReportsRemaining) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  for (int i = 0; i < 5; ++i) publish(conn, stream.subject());
  auto client = rnats::stream_func(conn, {.stream = stream.name()})({}, "1", {.to_head = true});
  EXPECT_EQ(client->remaining(), 4u);
  EXPECT_EQ(client->recv().id, "2");
  EXPECT_EQ(client->remaining(), 3u);
  EXPECT_EQ(client->recv().id, "3");
  EXPECT_EQ(client->recv().id, "4");
  EXPECT_EQ(client->recv().id, "5");
  EXPECT_EQ(client->remaining(), 0u);
  EXPECT_THROW((void)client->recv(), reflex::HeadReached);
}

TEST(JetStreamSource, FromHeadSkipsEverythingAlreadyThere) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  for (int i = 0; i < 3; ++i) publish(conn, stream.subject());
  auto client = rnats::stream_func(conn, {.stream = stream.name()})({}, "1", {.from_head = true});
  publish(conn, stream.subject());
  EXPECT_EQ(client->recv().id, "4");
}

TEST(JetStreamSource, FilterSubjectDeliversOnlyMatchingMessages) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  for (int i = 0; i < 6; ++i) publish(conn, stream.subject(i % 2 == 0 ? "even" : "odd"));
  auto source =
      rnats::stream_func(conn, {.stream = stream.name(), .filter_subject = stream.subject("odd")});
  EXPECT_EQ(ids(read_to_head(source, "")), (std::vector<std::string>{"2", "4", "6"}));
  EXPECT_EQ(ids(read_to_head(source, "4")), (std::vector<std::string>{"6"}));
}

TEST(JetStreamSource, WaitsForNewMessagesAndWakesOnStopPromptly) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  std::stop_source stop;
  auto client = rnats::stream_func(conn, {.stream = stream.name()})(stop.get_token(), "", {});
  auto next = std::async(std::launch::async, [&] { return client->recv().id; });
  std::this_thread::sleep_for(100ms);  // let it wait inside recv (not observable)
  publish(conn, stream.subject());
  ASSERT_EQ(next.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(next.get(), "1");

  auto blocked = std::async(std::launch::async, [&] { (void)client->recv(); });
  std::this_thread::sleep_for(100ms);  // let it wait inside recv (not observable)
  const auto asked = std::chrono::steady_clock::now();
  stop.request_stop();
  ASSERT_EQ(blocked.wait_for(2s), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 500ms);
  EXPECT_THROW(blocked.get(), reflex::Canceled);
}

TEST(JetStreamSource, ExpiredCursorFailsWithAClearErrorUnlessSkippingAhead) {
  auto conn = rnats_test::connect();
  TempStream stream(conn, {.max_events = 3, .storage = rnats::Storage::memory});
  for (int i = 0; i < 10; ++i) publish(conn, stream.subject());  // retains 8, 9, 10
  auto strict = rnats::stream_func(conn, {.stream = stream.name()});
  try {
    (void)strict({}, "2", {});
    FAIL() << "an expired cursor was accepted";
  } catch (const reflex::CursorError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("expired"), std::string::npos) << what;
    EXPECT_NE(what.find("3..7"), std::string::npos) << what;
  }
  // Exactly at the edge is fine: nothing was lost.
  EXPECT_EQ(ids(read_to_head(strict, "7")), (std::vector<std::string>{"8", "9", "10"}));
  // "" means from the beginning: whatever is retained.
  EXPECT_EQ(read_to_head(strict, "").size(), 3u);

  auto lenient = rnats::stream_func(
      conn, {.stream = stream.name(), .on_stale_cursor = rnats::StaleCursor::skip_ahead});
  EXPECT_EQ(ids(read_to_head(lenient, "2")), (std::vector<std::string>{"8", "9", "10"}));
}

TEST(JetStreamSource, FutureCursorFailsWithAClearErrorUnlessSkippingAhead) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  for (int i = 0; i < 3; ++i) publish(conn, stream.subject());
  auto strict = rnats::stream_func(conn, {.stream = stream.name()});
  try {
    (void)strict({}, "100", {});
    FAIL() << "a cursor beyond the stream was accepted";
  } catch (const reflex::CursorError& e) {
    EXPECT_NE(std::string(e.what()).find("beyond the stream's last sequence 3"), std::string::npos)
        << e.what();
  }
  auto lenient = rnats::stream_func(
      conn, {.stream = stream.name(), .on_stale_cursor = rnats::StaleCursor::skip_ahead});
  auto client = lenient({}, "100", {});
  publish(conn, stream.subject());
  EXPECT_EQ(client->recv().id, "4");
}

TEST(JetStreamSource, RejectsBadCursorsAndMissingStreams) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  auto source = rnats::stream_func(conn, {.stream = stream.name()});
  EXPECT_THROW((void)source({}, "abc", {}), reflex::CursorError);
  EXPECT_THROW((void)source({}, "-1", {}), reflex::CursorError);
  auto missing = rnats::stream_func(conn, {.stream = "NO_SUCH_STREAM_X"});
  EXPECT_THROW((void)missing({}, "", {}), rnats::NotFound);
  EXPECT_THROW((void)rnats::stream_func(conn, {}), reflex::ConfigError);
}

TEST(JetStreamSource, LagHoldsBackYoungEvents) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  publish(conn, stream.subject());
  auto source = rnats::stream_func(conn, {.stream = stream.name()});
  // to_head with lag: the young event is not available yet.
  EXPECT_TRUE(read_to_head(source, "", {.lag = 10s}).empty());
  auto client = source({}, "", {.lag = 300ms});
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(client->recv().id, "1");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
}

TEST(JetStreamSource, RunConsumesEveryEventOnceAndResumesFromTheCursor) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  for (int i = 0; i < 50; ++i) publish(conn, stream.subject());
  auto cursors = std::make_shared<reflex::MemCursorStore>();
  std::vector<std::string> seen;
  auto consumer = reflex::make_consumer("c", [&](const reflex::Event& e) { seen.push_back(e.id); });
  const reflex::Spec spec{.stream = rnats::stream_func(conn, {.stream = stream.name()}),
                          .cursors = cursors,
                          .consumer = consumer,
                          .options = {.to_head = true}};
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  for (int i = 0; i < 10; ++i) publish(conn, stream.subject());
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  ASSERT_EQ(seen.size(), 60u);
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], std::to_string(i + 1));
  EXPECT_EQ(cursors->get("c"), "60");
}

TEST(JetStreamSource, ASlowReaderOfALongBacklogOfSmallMessagesMissesNone) {
  // The server sends an ordered consumer up to 32 MiB ahead of its flow-control replies, which
  // for messages of ~100 bytes is several times nats.c's default pending limit (65,536
  // messages); past that limit nats.c drops messages without the ordered consumer noticing.
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  constexpr std::uint64_t kMessages = 250'000;
  for (std::uint64_t i = 0; i < kMessages; ++i) {
    rnats::publish_core(conn, stream.subject(), "x");
    if (i % 5000 == 4999) conn.flush();
  }
  conn.flush();
  ASSERT_TRUE(rnats_test::eventually(
      [&] { return rnats::stream_info(conn, stream.name())->messages == kMessages; }, 30s))
      << "the stream did not take every message";

  auto client = rnats::stream_func(conn, {.stream = stream.name(), .buffer = 64})({}, "", {});
  // Slower than the server sends, so that nats.c's pending list fills up to the server's window.
  std::this_thread::sleep_for(1s);
  for (std::uint64_t expected = 1; expected <= kMessages; ++expected) {
    const reflex::Event event = client->recv();
    ASSERT_EQ(event.id, std::to_string(expected)) << "a message was skipped";
    if (expected % 200 == 0) std::this_thread::sleep_for(1ms);
  }
}

}  // namespace
