// PublishEvent: ids, windshift's wire format, idempotency, expected last id, bad inputs.
#include <gtest/gtest.h>

#include "windshift_test.hpp"

namespace rwindshift_test {
namespace {

namespace rnats = reflex::rnats;

class PublishTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(ensure_stream(*stub_, subjects_stream(stream_)).ok()); }

  rnats::Connection nats_ = reflex_test::connect("rwindshift-publish");
  Server server_{nats_};
  std::unique_ptr<ev::EventsService::Stub> stub_ = server_.events();
  Streams streams_{nats_};
  std::string stream_ = streams_.name();
};

TEST_F(PublishTest, ReturnsTheStreamSequenceAndWritesWindshiftsHeaders) {
  ev::PublishEventRequest req;
  req.set_subject(stream_ + ".orders");
  *req.mutable_data() = any_string("hello");
  req.mutable_timestamp()->set_seconds(1700000000);
  req.mutable_timestamp()->set_nanos(123456789);
  req.set_idempotency_key("key-1");
  grpc::ClientContext ctx;
  ctx.AddMetadata("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  ev::PublishEventResponse res;
  ASSERT_TRUE(stub_->PublishEvent(&ctx, req, &res).ok());
  EXPECT_EQ(res.id(), 1u);
  EXPECT_EQ(publish(*stub_, stream_ + ".orders", "again"), 2u);

  // On NATS it is what windshift-server writes.
  rnats::ensure_consumer(nats_, {.stream = stream_, .name = "raw", .pull = true});
  rnats::Subscription sub(nats_, stream_, "raw");
  auto d = sub.next({}, 5s);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->data(), req.data().value());
  EXPECT_EQ(d->headers().at("WS-Data-Type"), "google.protobuf.StringValue");
  EXPECT_EQ(d->headers().at("WS-Published-Time"), "2023-11-14T22:13:20.123456789Z");
  EXPECT_EQ(d->headers().at("Nats-Msg-Id"), "key-1");
  EXPECT_EQ(d->headers().at("WS-Trace-Parent"),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  d->ack();
}

TEST_F(PublishTest, AnIdempotencyKeySeenBeforeStoresNothingAndAnswersTheFirstId) {
  const auto first = publish(*stub_, stream_ + ".x", "one", "same");
  const auto again = publish(*stub_, stream_ + ".x", "one", "same");
  EXPECT_EQ(first, again);
  EXPECT_EQ(rnats::stream_info(nats_, stream_)->messages, 1u);
}

TEST_F(PublishTest, ExpectedLastIdGuardsTheSubject) {
  const auto first = publish(*stub_, stream_ + ".acct", "v1");
  publish(*stub_, stream_ + ".other", "unrelated");
  ev::PublishEventRequest req;
  req.set_subject(stream_ + ".acct");
  *req.mutable_data() = any_string("v2");
  req.set_expected_last_id(first);
  ev::PublishEventResponse res;
  ASSERT_TRUE(stub_->PublishEvent(context().get(), req, &res).ok());
  const auto second = res.id();

  req.set_expected_last_id(first);  // stale
  const auto s = stub_->PublishEvent(context().get(), req, &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_NE(s.error_message().find("wrong sequence"), std::string::npos);
  EXPECT_EQ(rnats::stream_info(nats_, stream_)->last_sequence, second);
}

TEST_F(PublishTest, ASubjectNoStreamBindsIsNotFoundNamingIt) {
  ev::PublishEventRequest req;
  req.set_subject(reflex_test::unique_name("nostream") + ".x");
  *req.mutable_data() = any_string("lost");
  ev::PublishEventResponse res;
  const auto s = stub_->PublishEvent(context().get(), req, &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find(req.subject()), std::string::npos) << s.error_message();
}

TEST_F(PublishTest, BadInputsAreInvalidArguments) {
  ev::PublishEventRequest req;
  ev::PublishEventResponse res;
  req.set_subject(stream_ + ".*");
  *req.mutable_data() = any_string("x");
  auto s = stub_->PublishEvent(context().get(), req, &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "invalid subject: " + stream_ + ".*");
  req.set_subject("");
  s = stub_->PublishEvent(context().get(), req, &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.set_subject(stream_ + ".x");
  req.clear_data();
  s = stub_->PublishEvent(context().get(), req, &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "no data specified");
}

}  // namespace
}  // namespace rwindshift_test
