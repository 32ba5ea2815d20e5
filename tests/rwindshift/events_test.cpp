// The Events stream: subscribe, deliveries with headers, ack / reject / ping confirmations,
// redelivery, shared durable consumers, disconnects, drain, bad inputs.
#include <gtest/gtest.h>

#include <set>

#include "windshift_test.hpp"

namespace rwindshift_test {
namespace {

namespace rnats = reflex::rnats;

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(ensure_stream(*stub_, subjects_stream(stream_)).ok()); }

  rnats::Connection nats_ = reflex_test::connect("rwindshift-events");
  Server server_{nats_};
  std::unique_ptr<ev::EventsService::Stub> stub_ = server_.events();
  Streams streams_{nats_};
  std::string stream_ = streams_.name();
};

TEST_F(EventsTest, SubscribedAnswersTheProcessingTimeoutAndEventsCarryHeaders) {
  const auto consumer = ensure_consumer(*stub_, stream_, "c", 1500ms);
  ev::PublishEventRequest req;
  req.set_subject(stream_ + ".x");
  *req.mutable_data() = any_string("payload");
  req.mutable_timestamp()->set_seconds(1700000000);
  req.set_idempotency_key("idem");
  grpc::ClientContext ctx;
  ctx.AddMetadata("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  ctx.AddMetadata("tracestate", "vendor=1");
  ev::PublishEventResponse res;
  ASSERT_TRUE(stub_->PublishEvent(&ctx, req, &res).ok());

  Subscriber sub(*stub_, stream_, consumer);
  const auto subscribed = sub.subscribed();
  ASSERT_TRUE(subscribed);
  EXPECT_EQ(subscribed->processing_timeout().seconds(), 1);
  EXPECT_EQ(subscribed->processing_timeout().nanos(), 500000000);
  const auto e = sub.next_event();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id(), res.id());
  EXPECT_EQ(e->subject(), stream_ + ".x");
  EXPECT_EQ(e->delivery_attempt(), 1u);
  EXPECT_EQ(string_of(e->data()), "payload");
  EXPECT_EQ(e->data().type_url(), "type.googleapis.com/google.protobuf.StringValue");
  EXPECT_EQ(e->headers().timestamp().seconds(), 1700000000);
  EXPECT_EQ(e->headers().idempotency_key(), "idem");
  EXPECT_EQ(e->headers().trace_parent(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  EXPECT_EQ(e->headers().trace_state(), "vendor=1");
  sub.ack({e->id(), 999999});
  const auto c = sub.next_confirmation();
  ASSERT_TRUE(c && c->has_ack_confirmation());
  EXPECT_EQ(sorted(*c).done, std::vector<std::uint64_t>{e->id()});
  EXPECT_EQ(sorted(*c).invalid, std::vector<std::uint64_t>{999999});
  // Acked twice: the second is invalid.
  sub.ack({e->id()});
  const auto again = sub.next_confirmation();
  ASSERT_TRUE(again);
  EXPECT_EQ(sorted(*again).invalid, std::vector<std::uint64_t>{e->id()});
}

TEST_F(EventsTest, AnAckedEventIsNotDeliveredAgain) {
  const auto consumer = ensure_consumer(*stub_, stream_, "c", 1s);
  publish(*stub_, stream_ + ".x", "once");
  {
    Subscriber sub(*stub_, stream_, consumer);
    const auto e = sub.next_event();
    ASSERT_TRUE(e);
    sub.ack({e->id()});
    ASSERT_TRUE(sub.next_confirmation());
  }
  Subscriber sub(*stub_, stream_, consumer);
  EXPECT_FALSE(sub.next_event(1500ms));
}

TEST_F(EventsTest, MaxProcessingEventsBoundsWhatIsHandedOut) {
  const auto consumer = ensure_consumer(*stub_, stream_, "c", 5s);
  for (int i = 0; i < 5; ++i) publish(*stub_, stream_ + ".x", std::to_string(i));
  Subscriber sub(*stub_, stream_, consumer, 2);
  auto a = sub.next_event();
  auto b = sub.next_event();
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(sub.next_event(500ms)) << "a third event while two are unacked";
  sub.ack({a->id()});
  EXPECT_TRUE(sub.next_event(3s));
}

TEST_F(EventsTest, RejectWithDelayRedeliversAfterTheDelayNotBefore) {
  const auto consumer = ensure_consumer(*stub_, stream_, "c", 5s);
  publish(*stub_, stream_ + ".x", "later");
  Subscriber sub(*stub_, stream_, consumer);
  const auto e = sub.next_event();
  ASSERT_TRUE(e);
  const auto rejected = std::chrono::steady_clock::now();
  sub.reject({e->id()}, 800ms);
  const auto c = sub.next_confirmation();
  ASSERT_TRUE(c && c->has_reject_confirmation());
  EXPECT_EQ(sorted(*c).done, std::vector<std::uint64_t>{e->id()});
  const auto again = sub.next_event(5s);
  ASSERT_TRUE(again);
  EXPECT_GE(std::chrono::steady_clock::now() - rejected, 750ms);
  EXPECT_EQ(again->id(), e->id());
  EXPECT_EQ(again->delivery_attempt(), 2u);
}

TEST_F(EventsTest, RejectNowRedeliversAtOnce) {
  const auto consumer = ensure_consumer(*stub_, stream_, "c", 30s);
  publish(*stub_, stream_ + ".x", "retry");
  Subscriber sub(*stub_, stream_, consumer);
  const auto e = sub.next_event();
  ASSERT_TRUE(e);
  sub.reject({e->id()});
  const auto again = sub.next_event(3s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->delivery_attempt(), 2u);
}

TEST_F(EventsTest, AnUnackedEventComesBackAfterTheProcessingTimeout) {
  const auto consumer = ensure_consumer(*stub_, stream_, "c", 1s);
  publish(*stub_, stream_ + ".x", "slow");
  Subscriber sub(*stub_, stream_, consumer);
  const auto e = sub.next_event();
  ASSERT_TRUE(e);
  const auto again = sub.next_event(4s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id(), e->id());
  EXPECT_EQ(again->delivery_attempt(), 2u);
}

TEST_F(EventsTest, APingExtendsTheProcessingTimeout) {
  const auto consumer = ensure_consumer(*stub_, stream_, "c", 1s);
  publish(*stub_, stream_ + ".x", "long job");
  Subscriber sub(*stub_, stream_, consumer);
  const auto e = sub.next_event();
  ASSERT_TRUE(e);
  // 2.1 s of work, pinged every 600 ms: never redelivered.
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(sub.next_event(600ms)) << "redelivered although pinged";
    sub.ping({e->id(), 424242});
    const auto c = sub.next_confirmation();
    ASSERT_TRUE(c && c->has_ping_confirmation());
    EXPECT_EQ(sorted(*c).done, std::vector<std::uint64_t>{e->id()});
    EXPECT_EQ(sorted(*c).invalid, std::vector<std::uint64_t>{424242});
  }
  sub.ack({e->id()});
  const auto c = sub.next_confirmation();
  ASSERT_TRUE(c);
  EXPECT_EQ(sorted(*c).done, std::vector<std::uint64_t>{e->id()});
}

TEST_F(EventsTest, TwoSubscribersShareADurableConsumer) {
  const auto consumer = ensure_consumer(*stub_, stream_, "shared", 5s);
  auto other = server_.other_events();
  Subscriber a(*stub_, stream_, consumer, 5);
  Subscriber b(*other, stream_, consumer, 5);
  ASSERT_TRUE(a.subscribed() && b.subscribed());
  constexpr int n = 40;
  for (int i = 0; i < n; ++i) publish(*stub_, stream_ + ".x", std::to_string(i));
  std::set<std::uint64_t> seen;
  int from_a = 0, from_b = 0;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (static_cast<int>(seen.size()) < n && std::chrono::steady_clock::now() < deadline) {
    for (auto [sub, count] : {std::pair{&a, &from_a}, std::pair{&b, &from_b}}) {
      if (auto e = sub->next_event(50ms)) {
        EXPECT_TRUE(seen.insert(e->id()).second) << "event " << e->id() << " delivered twice";
        sub->ack({e->id()});
        ++*count;
      }
    }
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(n));
  EXPECT_GT(from_a, 0);
  EXPECT_GT(from_b, 0);
}

TEST_F(EventsTest, ASubscriberThatGoesAwayWithoutAckingLosesNothing) {
  const auto consumer = ensure_consumer(*stub_, stream_, "c", 30s);
  publish(*stub_, stream_ + ".x", "one");
  publish(*stub_, stream_ + ".x", "two");
  {
    Subscriber gone(*stub_, stream_, consumer);
    ASSERT_TRUE(gone.next_event());
    ASSERT_TRUE(gone.next_event());
    gone.close();
  }
  // Handed back when the call ended: no wait for the 30 s timeout.
  Subscriber sub(*stub_, stream_, consumer);
  std::set<std::string> got;
  while (got.size() < 2) {
    const auto e = sub.next_event(5s);
    ASSERT_TRUE(e) << "missing after a disconnect";
    // The attempt is JetStream's count: nats-server 2.9 sometimes counts the second of two events
    // handed back together as not delivered yet (1). What is promised here is the redelivery;
    // the count after one reject is checked by RejectNowRedeliversAtOnce.
    EXPECT_GE(e->delivery_attempt(), 1u);
    got.insert(string_of(e->data()));
    sub.ack({e->id()});
  }
}

TEST_F(EventsTest, AnEphemeralConsumerStreamsToo) {
  const auto consumer = ensure_consumer(*stub_, stream_, std::nullopt, 1s);
  publish(*stub_, stream_ + ".x", "eph");
  Subscriber sub(*stub_, stream_, consumer);
  const auto e = sub.next_event();
  ASSERT_TRUE(e);
  EXPECT_EQ(string_of(e->data()), "eph");
}

TEST_F(EventsTest, ShutdownEndsOpenStreamsAsUnavailable) {
  const auto consumer = ensure_consumer(*stub_, stream_, "c", 30s);
  publish(*stub_, stream_ + ".x", "drained");
  Subscriber sub(*stub_, stream_, consumer);
  ASSERT_TRUE(sub.next_event());
  server_.events_service().shutdown();
  const auto s = sub.finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "server shutting down");
  Subscriber late(*stub_, stream_, consumer);
  EXPECT_EQ(late.finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  server_.events_service().shutdown();  // idempotent
  // The unacked event went back to the consumer at once (its processing timeout is 30 s).
  rnats::Subscription raw(nats_, stream_, consumer);
  auto d = raw.next({}, 5s);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->data(), any_string("drained").value());
}

TEST_F(EventsTest, BadSubscriptionsEndWithTheReason) {
  {
    Subscriber sub(*stub_, "bad.stream", "c");
    const auto s = sub.finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "invalid stream name: bad.stream");
  }
  {
    Subscriber sub(*stub_, stream_, "bad consumer");
    const auto s = sub.finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "invalid consumer name: bad consumer");
  }
  {
    Subscriber sub(*stub_, stream_, "missing");
    const auto s = sub.finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  }
  {
    grpc::ClientContext ctx;
    auto call = stub_->Events(&ctx);
    ev::EventsRequest ack;
    ack.mutable_ack()->add_ids(1);
    call->Write(ack);
    ev::EventsResponse r;
    while (call->Read(&r)) {
    }
    const auto s = call->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "first message must be a subscribe");
  }
  {
    const auto consumer = ensure_consumer(*stub_, stream_, "c", 1s);
    Subscriber sub(*stub_, stream_, consumer);
    ASSERT_TRUE(sub.subscribed());
    ev::EventsRequest again;
    again.mutable_subscribe()->set_stream(stream_);
    again.mutable_subscribe()->set_consumer(consumer);
    sub.write(again);
    const auto s = sub.finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "cannot subscribe again");
  }
}

}  // namespace
}  // namespace rwindshift_test
