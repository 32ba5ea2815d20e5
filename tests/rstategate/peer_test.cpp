// PeerService on both backends: a broadcast reaches the streams present, with an id, a time and
// the claims; "*" matches any domain, channel or type; consumer groups share messages (each to
// one member) while separate groups and lone streams each get every message; shutdown ends the
// open streams.

#include <map>
#include <set>

#include "reflex/uuid.hpp"
#include "stategate_test.hpp"

namespace {

using namespace rstategate_test;

class PeerTest : public StategateTest {};

TEST_P(PeerTest, ABroadcastReachesAStreamWithIdTimeAndClaims) {
  auto stub = server.peer();
  Subscriber sub(*stub, "acme", "general", "comment");
  const auto before = std::chrono::system_clock::now();
  ASSERT_TRUE(broadcast(*stub, message("acme", "general", "comment", R"({"text":"hi"})")).ok());
  const auto got = sub.next();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->domain(), "acme");
  EXPECT_EQ(got->channel(), "general");
  EXPECT_EQ(got->type(), "comment");
  EXPECT_EQ(json_of(got->body()), R"({"text":"hi"})");
  EXPECT_TRUE(got->has_claims());
  EXPECT_EQ(json_of(got->claims()), "{}");  // the static token has no claims
  EXPECT_TRUE(reflex::is_uuid_v4(got->id())) << got->id();
  const auto ns = [](auto t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  };
  EXPECT_GE(got->time(), ns(before));
  EXPECT_LE(got->time(), ns(std::chrono::system_clock::now()));

  // Each message its own id.
  ASSERT_TRUE(broadcast(*stub, message("acme", "general", "comment")).ok());
  const auto second = sub.next();
  ASSERT_TRUE(second);
  EXPECT_NE(second->id(), got->id());
}

TEST_P(PeerTest, StarMatchesAnyValueOfItsFieldAndOtherNamesDoNotMatch) {
  auto stub = server.peer();
  Subscriber any_domain(*stub, "*", "general", "comment");
  Subscriber any_channel(*stub, "acme", "*", "comment");
  Subscriber any_type(*stub, "acme", "general", "*");
  Subscriber everything(*stub, "*", "*", "*");
  Subscriber exact(*stub, "acme", "general", "comment");

  // Names with the characters NATS subjects give a meaning to stay names.
  const std::vector<sg::Message> sent = {
      message("acme", "general", "comment"), message("other.co", "general", "comment"),
      message("acme", "random>", "comment"), message("acme", "general", "like*"),
      message("x", "y", "z")};
  for (const auto& m : sent) ASSERT_TRUE(broadcast(*stub, m).ok());

  const auto received = [](Subscriber& sub, std::size_t n) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n; ++i) {
      auto m = sub.next();
      if (!m) break;
      out.push_back(m->domain() + "/" + m->channel() + "/" + m->type());
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(received(any_domain, 2), (V{"acme/general/comment", "other.co/general/comment"}));
  EXPECT_EQ(received(any_channel, 2), (V{"acme/general/comment", "acme/random>/comment"}));
  EXPECT_EQ(received(any_type, 2), (V{"acme/general/comment", "acme/general/like*"}));
  EXPECT_EQ(received(everything, 5), (V{"acme/general/comment", "other.co/general/comment",
                                        "acme/random>/comment", "acme/general/like*", "x/y/z"}));
  EXPECT_EQ(received(exact, 1), (V{"acme/general/comment"}));

  // Nothing more came to anyone: a marker broadcast after them is each one's next message.
  ASSERT_TRUE(broadcast(*stub, message("acme", "general", "comment", R"({"marker":true})")).ok());
  for (Subscriber* sub : {&any_domain, &any_channel, &any_type, &everything, &exact}) {
    const auto next = sub->next();
    ASSERT_TRUE(next);
    EXPECT_EQ(json_of(next->body()), R"({"marker":true})");
  }
}

TEST_P(PeerTest, EachMessageGoesToOneMemberOfAGroupAndToEveryGroup) {
  auto stub = server.peer();
  constexpr int kMembers = 3;
  constexpr int kMessages = 60;
  std::vector<std::unique_ptr<Subscriber>> red, blue;
  for (int i = 0; i < kMembers; ++i) {
    red.push_back(std::make_unique<Subscriber>(*stub, "acme", "jobs", "*", "red"));
    blue.push_back(std::make_unique<Subscriber>(*stub, "acme", "jobs", "*", "blue"));
  }
  Subscriber alone(*stub, "acme", "jobs", "*");
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(
        broadcast(*stub, message("acme", "jobs", "job", R"({"n":)" + std::to_string(i) + "}"))
            .ok());
  }
  // Every message once per group: the members' counts add up to kMessages, and no number twice.
  const auto take_group = [&](std::vector<std::unique_ptr<Subscriber>>& group,
                              std::size_t expected) {
    std::multiset<std::string> seen;
    EXPECT_TRUE(reflex_test::eventually(
        [&] {
          std::size_t queued = 0;
          for (auto& member : group) queued += member->queued();
          return queued >= expected;
        },
        10s));
    for (auto& member : group) {
      while (auto m = member->next(0ms)) seen.insert(json_of(m->body()));
    }
    return seen;
  };
  for (auto* group : {&red, &blue}) {
    const auto seen = take_group(*group, kMessages);
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(kMessages));
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(),
              static_cast<std::size_t>(kMessages));
  }
  // A stream without a group gets them all.
  for (int i = 0; i < kMessages; ++i) {
    const auto m = alone.next();
    ASSERT_TRUE(m) << i;
    EXPECT_EQ(json_of(m->body()), R"({"n":)" + std::to_string(i) + "}");
  }
  // Once the members' messages are taken, none comes late: a marker is the next of exactly one
  // member per group.
  ASSERT_TRUE(broadcast(*stub, message("acme", "jobs", "job", R"({"marker":true})")).ok());
  for (auto* group : {&red, &blue}) {
    EXPECT_EQ(take_group(*group, 1).size(), 1u);
  }
}

TEST_P(PeerTest, GroupMembersOnTwoChannelsOfTheirOwnEachShareTheirOwnMessages) {
  auto stub = server.peer();
  const auto other = sg::PeerService::NewStub(server.other_channel());
  Subscriber first(*stub, "acme", "jobs", "job", "workers");
  Subscriber second(*other, "acme", "jobs", "job", "workers");
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(broadcast(*stub, message("acme", "jobs", "job")).ok());
  ASSERT_TRUE(reflex_test::eventually([&] { return first.queued() + second.queued() >= 20; }, 10s));
  EXPECT_EQ(first.queued() + second.queued(), 20u);
  // Both members take part (round robin in-process; NATS picks at random, and 20 messages all
  // to one of two members has probability 2^-19).
  EXPECT_GT(first.queued(), 0u);
  EXPECT_GT(second.queued(), 0u);
}

TEST_P(PeerTest, ShutdownEndsAnOpenStreamWithUnavailableAndRefusesNewCalls) {
  auto stub = server.peer();
  Subscriber sub(*stub, "acme", "general", "comment");
  const auto before = std::chrono::steady_clock::now();
  server.peer_service().shutdown();
  const auto status = sub.finish(5s);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 2s);
  EXPECT_EQ(broadcast(*stub, message("acme", "general", "comment")).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // The server stops at once: no handler is left waiting.
  const auto stopping = std::chrono::steady_clock::now();
  server.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 1s);
}

TEST_P(PeerTest, AStreamWhoseClientGoesAwayIsUnsubscribed) {
  auto stub = server.peer();
  {
    Subscriber gone(*stub, "acme", "jobs", "job", "pool");
    gone.close();
  }
  // The departed stream's handler notices within its cancel check (100 ms) and unsubscribes
  // before it stops counting; until then a message may still be routed to it.
  ASSERT_TRUE(reflex_test::eventually([&] { return server.peer_service().open_streams() == 0; }));
  // The group's only member now is `stays`: it gets every message.
  Subscriber stays(*stub, "acme", "jobs", "job", "pool");
  EXPECT_EQ(server.peer_service().open_streams(), 1u);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(broadcast(*stub, message("acme", "jobs", "job")).ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(stays.next()) << i;
}

INSTANTIATE_TEST_SUITE_P(Backends, PeerTest, ::testing::Values(Backend::memory, Backend::nats),
                         backend_name);

}  // namespace
