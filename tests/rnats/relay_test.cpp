#include "reflex/rnats/relay.hpp"

#include <gtest/gtest.h>

#include <future>
#include <thread>
#include <vector>

#include "nats_test.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_cursor_store.hpp"
#include "reflex/mem_log.hpp"
#include "reflex_test/streams.hpp"

namespace {

using namespace std::chrono_literals;
namespace rnats = reflex::rnats;
using rnats_test::TempStream;

void append(reflex::MemLog& log, int count) {
  for (int i = 0; i < count; ++i) {
    const auto n = log.size() + 1;
    log.append(static_cast<int>(n % 3), "fid-" + std::to_string(n), "e" + std::to_string(n));
  }
}

// Every message of the stream as (source id, metadata), in stream order.
std::vector<std::pair<std::string, std::string>> contents(const rnats::Connection& conn,
                                                          const std::string& stream) {
  const auto info = rnats::ensure_consumer(
      conn, {.stream = stream, .from = rnats::ConsumeFrom::beginning(), .max_pending = 10000});
  rnats::Subscription sub(conn, stream, info.name);
  std::vector<std::pair<std::string, std::string>> out;
  while (auto d = sub.next({}, 500ms)) {
    out.emplace_back(d->headers().at(rnats::header::source_id), d->data());
    d->ack();
  }
  return out;
}

// Runs the relay on a thread until `done` holds (or 30 s), then stops it; returns its error.
std::exception_ptr relay_until(rnats::Relay& relay, const std::function<bool()>& done) {
  rnats_test::RunningRelay running(relay);
  (void)rnats_test::eventually([&] { return done() || running.error() != nullptr; }, 30s);
  running.stop();
  return running.error();
}

void expect_exactly(const std::vector<std::pair<std::string, std::string>>& got, int first,
                    int last) {
  ASSERT_EQ(got.size(), static_cast<std::size_t>(last - first + 1));
  for (int n = first; n <= last; ++n) {
    const auto& [id, data] = got[static_cast<std::size_t>(n - first)];
    ASSERT_EQ(id, std::to_string(n));
    ASSERT_EQ(data, "e" + std::to_string(n));
  }
}

TEST(Relay, RelaysEveryEventOnceInOrderWithStableMessageIds) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  reflex::MemLog log;
  append(log, 3000);
  rnats::Relay relay(conn, {.name = "orders",
                            .source = log.stream_func(),
                            .stream = stream.name(),
                            .subject = stream.subject("events"),
                            .max_in_flight = 256});
  ASSERT_EQ(relay_until(relay, [&] { return relay.stats().acknowledged >= 3000; }), nullptr);
  const auto stats = relay.stats();
  EXPECT_EQ(stats.acknowledged, 3000u);
  EXPECT_EQ(stats.cursor, "3000");
  EXPECT_EQ(stats.duplicates, 0u);
  expect_exactly(contents(conn, stream.name()), 1, 3000);

  // The message id is "<relay name>:<event id>" and the event fields travel along.
  auto client = rnats::stream_func(conn, {.stream = stream.name()})({}, "1", {});
  const auto second = client->recv();
  EXPECT_EQ(second.foreign_id, "fid-2");
  EXPECT_EQ(second.type, 2);
  EXPECT_EQ(second.metadata, "e2");
}

TEST(Relay, ResumesAfterTheStreamsLastMessageWithoutAnyCursorStore) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  reflex::MemLog log;
  append(log, 100);
  const rnats::RelayOptions options{.name = "resume",
                                    .source = log.stream_func(),
                                    .stream = stream.name(),
                                    .subject = stream.subject()};
  {
    rnats::Relay relay(conn, options);
    ASSERT_EQ(relay_until(relay, [&] { return relay.stats().acknowledged >= 100; }), nullptr);
  }
  append(log, 50);
  rnats::Relay again(conn, options);
  // relay_until() returns once the relay stopped: its stats cannot change any more.
  ASSERT_EQ(relay_until(again, [&] { return again.stats().acknowledged >= 50; }), nullptr);
  EXPECT_EQ(again.stats().acknowledged, 50u);
  EXPECT_EQ(again.stats().duplicates, 0u);
  expect_exactly(contents(conn, stream.name()), 1, 150);
}

TEST(Relay, PublishesToPrefixDotTypeSubjects) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  reflex::MemLog log;
  append(log, 9);
  rnats::Relay relay(conn, {.name = "typed",
                            .source = log.stream_func(),
                            .stream = stream.name(),
                            .subject_prefix = stream.name() + ".user"});
  ASSERT_EQ(relay_until(relay, [&] { return relay.stats().acknowledged >= 9; }), nullptr);
  auto typed = rnats::stream_func(
      conn, {.stream = stream.name(), .filter_subject = stream.name() + ".user.1"});
  std::vector<int> types;
  for (const auto& e : reflex_test::read_to_head(typed)) types.push_back(e.type);
  EXPECT_EQ(types, (std::vector<int>{1, 1, 1}));
}

TEST(Relay, RepublishesFromTheFirstUnacknowledgedEventAfterFailures) {
  auto conn = rnats_test::connect();
  // A full stream refuses new messages: publishes fail until the limit is lifted.
  rnats::StreamConfig config{.name = reflex_test::unique_name("FULL"),
                             .max_events = 40,
                             .discard = rnats::Discard::new_messages,
                             .storage = rnats::Storage::memory};
  TempStream stream(conn, config);
  config.subjects = {stream.name() + ".>"};
  reflex::MemLog log;
  append(log, 300);
  rnats::Relay relay(conn, {.name = "full",
                            .source = log.stream_func(),
                            .stream = stream.name(),
                            .subject = stream.subject(),
                            .max_in_flight = 64,
                            .retry_backoff = 20ms,
                            .max_retry_backoff = 100ms});
  rnats_test::RunningRelay running(relay);
  ASSERT_TRUE(rnats_test::eventually([&] { return relay.stats().recoveries >= 2; }));
  EXPECT_EQ(relay.stats().acknowledged, 40u);
  config.max_events = 0;
  rnats::ensure_stream(conn, config);
  ASSERT_TRUE(rnats_test::eventually([&] { return relay.stats().acknowledged >= 300; }, 20s))
      << relay.stats().last_error;
  running.stop();
  ASSERT_EQ(running.error(), nullptr);
  EXPECT_GT(relay.stats().republished, 0u);
  EXPECT_NE(relay.stats().last_error.find("maximum messages"), std::string::npos)
      << relay.stats().last_error;
  expect_exactly(contents(conn, stream.name()), 1, 300);
}

TEST(Relay, RefusesAStreamThatHoldsSomeoneElsesMessages) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  rnats::publish(conn, {.subject = stream.subject("other"), .data = "not ours"});
  reflex::MemLog log;
  append(log, 3);
  rnats::Relay relay(conn, {.name = "mine",
                            .source = log.stream_func(),
                            .stream = stream.name(),
                            .subject = stream.subject()});
  const auto error = relay_until(relay, [] { return false; });
  ASSERT_NE(error, nullptr);
  EXPECT_THROW(std::rethrow_exception(error), reflex::ConfigError);

  // Its own subject carrying another writer's last message is refused, too.
  TempStream other(conn);
  rnats::publish(conn, {.subject = other.subject(), .idempotency_key = "x:1"});
  rnats::Relay relay2(conn, {.name = "mine",
                             .source = log.stream_func(),
                             .stream = other.name(),
                             .subject = other.subject()});
  const auto error2 = relay_until(relay2, [] { return false; });
  ASSERT_NE(error2, nullptr);
  EXPECT_THROW(std::rethrow_exception(error2), reflex::ConfigError);
}

TEST(Relay, RecordsItsProgressAndResumesFromTheCursorStoreWhenTheStreamHasNone) {
  auto conn = rnats_test::connect();
  const std::string name = reflex_test::unique_name("RECREATE");
  auto cursors = std::make_shared<reflex::MemCursorStore>();
  reflex::MemLog log;
  append(log, 10);
  const rnats::RelayOptions options{.name = "cur",
                                    .source = log.stream_func(),
                                    .stream = name,
                                    .subject = name + ".x",
                                    .cursors = cursors};
  {
    TempStream stream(conn, {.name = name, .storage = rnats::Storage::memory});
    rnats::Relay relay(conn, options);
    ASSERT_EQ(relay_until(relay, [&] { return relay.stats().acknowledged >= 10; }), nullptr);
    EXPECT_EQ(cursors->get("cur"), "10");
  }
  // The stream is recreated empty: the cursor store says where the relay was.
  TempStream stream(conn, {.name = name, .storage = rnats::Storage::memory});
  append(log, 5);
  rnats::Relay relay(conn, options);
  ASSERT_EQ(relay_until(relay, [&] { return relay.stats().acknowledged >= 5; }), nullptr);
  expect_exactly(contents(conn, name), 11, 15);
}

TEST(Relay, RelaysIntoAStreamNamedError) {
  // Its acknowledgements read {"stream":"error","seq":...}: they are parsed, not searched for an
  // "error" member.
  auto conn = rnats_test::connect();
  TempStream stream(conn, {.name = "error", .storage = rnats::Storage::memory});
  reflex::MemLog log;
  append(log, 20);
  rnats::Relay relay(conn, {.name = "errors",
                            .source = log.stream_func(),
                            .stream = stream.name(),
                            .subject = stream.subject()});
  ASSERT_EQ(relay_until(relay, [&] { return relay.stats().acknowledged >= 20; }), nullptr);
  EXPECT_EQ(relay.stats().acknowledged, 20u);
  EXPECT_EQ(relay.stats().recoveries, 0u) << relay.stats().last_error;
  expect_exactly(contents(conn, stream.name()), 1, 20);
}

TEST(Relay, ANameWithWhatLooksLikeAnEscapeResumesFromItsOwnMessages) {
  // The message ids "ops%41:<id>" are compared as written, not decoded into "opsA:<id>".
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  reflex::MemLog log;
  append(log, 10);
  const rnats::RelayOptions options{.name = "ops%41",
                                    .source = log.stream_func(),
                                    .stream = stream.name(),
                                    .subject = stream.subject()};
  {
    rnats::Relay relay(conn, options);
    ASSERT_EQ(relay_until(relay, [&] { return relay.stats().acknowledged >= 10; }), nullptr);
  }
  append(log, 5);
  rnats::Relay again(conn, options);
  ASSERT_EQ(relay_until(again, [&] { return again.stats().acknowledged >= 5; }), nullptr);
  EXPECT_EQ(again.stats().duplicates, 0u);
  expect_exactly(contents(conn, stream.name()), 1, 15);
}

TEST(Relay, ValidatesItsOptions) {
  auto conn = rnats_test::connect();
  reflex::MemLog log;
  EXPECT_THROW(rnats::Relay(conn, {.source = log.stream_func(), .stream = "S", .subject = "s"}),
               reflex::ConfigError);
  EXPECT_THROW(rnats::Relay(conn, {.name = "r", .stream = "S", .subject = "s"}),
               reflex::ConfigError);
  EXPECT_THROW(rnats::Relay(conn, {.name = "r", .source = log.stream_func(), .stream = "S"}),
               reflex::ConfigError);
  EXPECT_THROW(rnats::Relay(conn, {.name = "r",
                                   .source = log.stream_func(),
                                   .stream = "S",
                                   .subject = "s",
                                   .subject_prefix = "p"}),
               reflex::ConfigError);
  rnats::Relay missing(conn, {.name = "r",
                              .source = log.stream_func(),
                              .stream = "NO_SUCH_STREAM_Z",
                              .subject = "nowhere.x"});
  EXPECT_THROW(missing.run({}), rnats::NotFound);
}

}  // namespace

namespace {

TEST(Relay, WritesWindshiftsFormatWhenAskedAndResumesFromIt) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  reflex::MemLog log;
  append(log, 5);
  const rnats::RelayOptions options{.name = "ws",
                                    .source = log.stream_func(),
                                    .stream = stream.name(),
                                    .subject = stream.subject("events"),
                                    .format = rnats::WireFormat::windshift};
  {
    rnats::Relay relay(conn, options);
    ASSERT_EQ(relay_until(relay, [&] { return relay.stats().acknowledged >= 5; }), nullptr);
  }
  append(log, 2);
  {
    // Resumes after the last relayed event (its Nats-Msg-Id), whatever the format.
    rnats::Relay relay(conn, options);
    ASSERT_EQ(relay_until(relay, [&] { return relay.stats().cursor == "7"; }), nullptr);
    EXPECT_EQ(relay.stats().acknowledged, 2u);
  }
  const auto info = rnats::ensure_consumer(conn, {.stream = stream.name(), .pull = true});
  rnats::Subscription sub(conn, stream.name(), info.name);
  for (int n = 1; n <= 7; ++n) {
    auto d = sub.next({}, 5s);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->headers().at("WS-Data-Type"), "reflexpb.Event");
    EXPECT_EQ(d->headers().at(rnats::header::msg_id), "ws:" + std::to_string(n));
    EXPECT_EQ(d->headers().count(rnats::header::type), 0u);
    const auto e = d->event();
    EXPECT_EQ(e.foreign_id, "fid-" + std::to_string(n));
    EXPECT_EQ(e.metadata, "e" + std::to_string(n));
    EXPECT_EQ(e.type, n % 3);
    d->ack();
  }
  EXPECT_FALSE(sub.next({}, 200ms));
}

}  // namespace
