// Dead letters: events rejected permanently or past their delivery limit are copied, with their
// headers and their failure, to a dead-letter stream that is consumed and replayed like any other.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nats_test.hpp"
#include "reflex/errors.hpp"

namespace {

using namespace std::chrono_literals;
namespace rnats = reflex::rnats;
using rnats_test::TempStream;

/// Deletes the dead-letter stream of a test's stream at its end.
struct DeadLetters {
  rnats::Connection conn;
  std::string name;
  ~DeadLetters() {
    try {
      rnats::delete_stream(conn, name);
    } catch (...) {
    }
  }
};

/// The next dead letter of `dead` (a fresh ephemeral consumer from its beginning).
std::vector<rnats::Delivery> read_all(const rnats::Connection& conn, const std::string& dead,
                                      std::size_t count) {
  std::vector<rnats::Delivery> out;
  if (!rnats_test::eventually([&] { return rnats::stream_info(conn, dead).has_value(); })) {
    return out;
  }
  const auto info = rnats::ensure_consumer(conn, {.stream = dead, .pull = true});
  rnats::Subscription sub(conn, dead, info.name);
  while (out.size() < count) {
    auto d = sub.next({}, 3s);
    if (!d) break;
    d->ack();
    out.push_back(std::move(*d));
  }
  return out;
}

TEST(DeadLetters, APermanentRejectIsCopiedWithItsHeadersAndReasonThenReplayable) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  const DeadLetters cleanup{conn, rnats::dead_letter_stream(stream.name())};
  EXPECT_EQ(cleanup.name, stream.name() + "-dead-letters");
  rnats::publish(conn, {.subject = stream.subject("orders"),
                        .data = "payload",
                        .headers = {{"Custom", "v"}},
                        .idempotency_key = "key-1"});
  rnats::ensure_consumer(conn, {.stream = stream.name(), .name = "billing", .pull = true});
  rnats::Subscription sub(
      conn, stream.name(), "billing",
      {.dead_letters = rnats::DeadLetterOptions{.storage = rnats::Storage::memory}});
  auto d = sub.next({}, 5s);
  ASSERT_TRUE(d);
  d->reject({.permanently = true, .reason = "bad input"});
  EXPECT_TRUE(d->finished());
  EXPECT_FALSE(sub.next({}, 500ms)) << "terminated: never again";
  EXPECT_EQ(sub.stats().dead_lettered, 1u);

  const auto letters = read_all(conn, cleanup.name, 1);
  ASSERT_EQ(letters.size(), 1u);
  const auto& l = letters[0];
  EXPECT_EQ(l.subject(), cleanup.name + ".billing." + stream.subject("orders"));
  EXPECT_EQ(l.data(), "payload");
  const auto& h = l.headers();
  EXPECT_EQ(h.at("Custom"), "v");
  EXPECT_EQ(h.at(rnats::header::dead_letter_stream), stream.name());
  EXPECT_EQ(h.at(rnats::header::dead_letter_subject), stream.subject("orders"));
  EXPECT_EQ(h.at(rnats::header::dead_letter_sequence), "1");
  EXPECT_EQ(h.at(rnats::header::dead_letter_consumer), "billing");
  EXPECT_EQ(h.at(rnats::header::dead_letter_reason), "bad%20input%20(permanently)");
  EXPECT_EQ(h.at(rnats::header::dead_letter_attempts), "1");
  EXPECT_EQ(h.at(rnats::header::dead_letter_msg_id), "key-1");
  EXPECT_FALSE(h.at(rnats::header::dead_letter_time).empty());
  EXPECT_EQ(h.at(rnats::header::msg_id), "dead-letter:" + stream.name() + ":billing:1");

  // Replayed to where it came from, once however often it is replayed.
  const auto replay = rnats::replay_message(l);
  EXPECT_EQ(replay.subject, stream.subject("orders"));
  EXPECT_EQ(replay.headers.count(rnats::header::dead_letter_reason), 0u);
  EXPECT_EQ(replay.headers.at("Custom"), "v");
  const auto first = rnats::publish(conn, replay);
  EXPECT_TRUE(rnats::publish(conn, replay).duplicate);
  auto again = sub.next({}, 5s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->sequence(), first.sequence);
  EXPECT_EQ(again->data(), "payload");
  again->ack();
  EXPECT_THROW((void)rnats::replay_message(*again), reflex::ConfigError);
}

TEST(DeadLetters, TheDeliveryPastTheLimitIsDeadLetteredInsteadOfHandedOut) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  const DeadLetters cleanup{conn, rnats::dead_letter_stream(stream.name())};
  rnats::publish(conn, {.subject = stream.subject(), .data = "times-out"});
  rnats::publish(conn, {.subject = stream.subject(), .data = "rejected"});
  rnats::ensure_consumer(
      conn, {.stream = stream.name(), .name = "worker", .processing_timeout = 300ms, .pull = true});
  const rnats::SubscribeOptions options{
      .dead_letters =
          rnats::DeadLetterOptions{.max_deliveries = 2, .storage = rnats::Storage::memory}};
  rnats::Subscription sub(conn, stream.name(), "worker", options);
  std::vector<std::pair<std::string, std::uint64_t>> seen;
  while (auto d = sub.next({}, 1500ms)) {
    seen.emplace_back(d->data(), d->attempt());
    // "times-out" is never finished (it times out twice); "rejected" is rejected each time.
    if (d->data() == "rejected") d->reject();
  }
  // Each reached a subscriber twice, never a third time.
  EXPECT_EQ(std::count(seen.begin(), seen.end(), std::make_pair(std::string("times-out"), 2ul)), 1);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), std::make_pair(std::string("rejected"), 2ul)), 1);
  EXPECT_EQ(seen.size(), 4u);
  auto letters = read_all(conn, cleanup.name, 2);
  ASSERT_EQ(letters.size(), 2u);
  std::map<std::string, std::string> reasons;
  for (const auto& l : letters) {
    EXPECT_EQ(l.headers().at(rnats::header::dead_letter_attempts), "2");
    reasons[l.data()] = l.headers().at(rnats::header::dead_letter_reason);
  }
  EXPECT_NE(reasons["times-out"].find("max%20deliveries"), std::string::npos)
      << reasons["times-out"];
  EXPECT_NE(reasons["rejected"].find("delivery%202%20of%20at%20most%202"), std::string::npos)
      << reasons["rejected"];
  EXPECT_EQ(rnats::consumer_info(conn, stream.name(), "worker")->ack_pending, 0);
}

TEST(DeadLetters, AServerLimitBelowTheDeadLetterLimitIsRefused) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  rnats::ensure_consumer(conn,
                         {.stream = stream.name(), .name = "capped", .max_delivery_attempts = 3});
  EXPECT_THROW(rnats::Subscription(conn, stream.name(), "capped",
                                   {.dead_letters = rnats::DeadLetterOptions{.max_deliveries = 3}}),
               reflex::ConfigError);
  EXPECT_NO_THROW(
      rnats::Subscription(conn, stream.name(), "capped",
                          {.dead_letters = rnats::DeadLetterOptions{.max_deliveries = 2}}));
}

}  // namespace
