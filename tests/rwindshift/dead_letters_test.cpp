// Dead letters: a permanent reject, or the last allowed delivery, copies the event to
// "<stream>-dead-letters", which is consumed and replayed like any stream.
#include <gtest/gtest.h>

#include "windshift_test.hpp"

namespace rwindshift_test {
namespace {

namespace rnats = reflex::rnats;

class DeadLettersTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(ensure_stream(*stub_, subjects_stream(stream_)).ok()); }
  void TearDown() override {
    try {
      rnats::delete_stream(nats_, rnats::dead_letter_stream(stream_));
    } catch (...) {
    }
  }
  static reflex::rwindshift::EventsServiceOptions options() {
    reflex::rwindshift::EventsServiceOptions o;
    o.dead_letters =
        rnats::DeadLetterOptions{.max_deliveries = 2, .storage = rnats::Storage::memory};
    return o;
  }

  rnats::Connection nats_ = reflex_test::connect("rwindshift-dead-letters");
  Server server_{nats_, options()};
  std::unique_ptr<ev::EventsService::Stub> stub_ = server_.events();
  Streams streams_{nats_};
  std::string stream_ = streams_.name();
};

TEST_F(DeadLettersTest, APermanentRejectGoesToTheDeadLetterStreamAndCanBeReplayed) {
  const auto consumer = ensure_consumer(*stub_, stream_, "c", 5s);
  const auto id = publish(*stub_, stream_ + ".orders", "poison");
  Subscriber sub(*stub_, stream_, consumer);
  const auto e = sub.next_event();
  ASSERT_TRUE(e);
  sub.reject({e->id()}, std::nullopt, /*permanently=*/true);
  const auto c = sub.next_confirmation();
  ASSERT_TRUE(c);
  EXPECT_EQ(sorted(*c).done, std::vector<std::uint64_t>{id});
  EXPECT_FALSE(sub.next_event(500ms)) << "a permanently rejected event came back";

  // The dead-letter stream is a windshift stream: a consumer through the service reads it.
  const auto dead = rnats::dead_letter_stream(stream_);
  ev::EnsureConsumerRequest req;
  req.set_stream(dead);
  req.set_name("repair");
  req.add_subjects(dead + ".>");
  req.mutable_from()->set_start(true);
  ev::EnsureConsumerResponse res;
  ASSERT_TRUE(stub_->EnsureConsumer(context().get(), req, &res).ok());
  Subscriber repair(*stub_, dead, "repair");
  const auto letter = repair.next_event();
  ASSERT_TRUE(letter);
  EXPECT_EQ(string_of(letter->data()), "poison");
  EXPECT_EQ(letter->subject(), dead + ".c." + stream_ + ".orders");

  // Replay: the original event, published again to its own subject.
  rnats::ensure_consumer(nats_, {.stream = dead, .name = "raw", .pull = true});
  rnats::Subscription raw(nats_, dead, "raw");
  auto d = raw.next({}, 5s);
  ASSERT_TRUE(d);
  const auto replayed = rnats::publish(nats_, rnats::replay_message(*d));
  EXPECT_EQ(replayed.stream, stream_);
  const auto back = sub.next_event(5s);
  ASSERT_TRUE(back);
  EXPECT_EQ(string_of(back->data()), "poison");
  EXPECT_EQ(back->subject(), stream_ + ".orders");
}

TEST_F(DeadLettersTest, TheLastAllowedDeliveryGoesToTheDeadLetterStream) {
  const auto consumer = ensure_consumer(*stub_, stream_, "c", 1s);
  publish(*stub_, stream_ + ".x", "flaky");
  Subscriber sub(*stub_, stream_, consumer);
  auto e = sub.next_event();
  ASSERT_TRUE(e);
  sub.reject({e->id()});  // attempt 1 of 2: delivered again
  e = sub.next_event();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->delivery_attempt(), 2u);
  // Attempt 2 times out unacked: it is not handed out a third time but dead-lettered.
  EXPECT_FALSE(sub.next_event(2500ms));
  const auto dead = rnats::dead_letter_stream(stream_);
  ASSERT_TRUE(reflex_test::eventually(
      [&] {
        const auto info = rnats::stream_info(nats_, dead);
        return info && info->messages == 1;
      },
      5s));
}

}  // namespace
}  // namespace rwindshift_test
