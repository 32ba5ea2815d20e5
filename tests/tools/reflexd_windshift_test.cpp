// reflexd as windshift-server's clients see it, through code generated from the windshift protos:
// its services healthy and listed by reflection, state and events served, an open Events stream
// ended by SIGTERM with its unacknowledged event delivered again by the next reflexd, a
// subscription that outlives a nats-server restart, and a SQL outbox relayed in windshift's
// format reaching a windshift subscriber.

#include <google/protobuf/wrappers.pb.h>
#include <grpcpp/grpcpp.h>
#include <reflex/proto/reflex.pb.h>
#include <reflex/proto/windshift/events/v1alpha1/service.grpc.pb.h>
#include <reflex/proto/windshift/state/v1alpha1/service.grpc.pb.h>
#include <signal.h>

#include "reflex/rgrpc/client.hpp"
#include "reflex/rnats/rnats.hpp"
#include "reflex_test/services.hpp"
#include "reflex_test/wait.hpp"
#include "reflexd_harness.hpp"

namespace {

using namespace reflexd_test;
namespace ws = windshift::events::v1alpha1;
namespace st = windshift::state::v1alpha1;

constexpr const char* kEvents = "windshift.events.v1alpha1.EventsService";
constexpr const char* kState = "windshift.state.v1alpha1.StateService";

std::vector<std::string> windshift_env(const std::string& nats_url) {
  return {"NATS_URL=" + nats_url, "REFLEX_LISTEN=127.0.0.1:0", "REFLEX_HTTP=127.0.0.1:0"};
}

std::unique_ptr<grpc::ClientContext> deadline(std::chrono::milliseconds timeout = 5s) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  return ctx;
}

/// A windshift client of one reflexd.
struct Client {
  explicit Client(const std::string& target)
      : channel(reflex::rgrpc::make_channel({.target = target})),
        events(ws::EventsService::NewStub(channel)),
        state(st::StateService::NewStub(channel)) {}

  grpc::Status ensure_stream(const std::string& name) {
    ws::EnsureStreamRequest req;
    req.set_name(name);
    req.mutable_subjects()->add_subjects(name + ".>");
    ws::EnsureStreamResponse res;
    return events->EnsureStream(deadline().get(), req, &res);
  }
  /// A durable consumer of every subject of `stream`; from its first event with `from_start`,
  /// else of events published from now on (windshift's default).
  std::string ensure_consumer(const std::string& stream, const std::string& name,
                              bool from_start = false) {
    ws::EnsureConsumerRequest req;
    req.set_stream(stream);
    req.set_name(name);
    req.add_subjects(stream + ".>");
    if (from_start) req.mutable_from()->set_start(true);
    req.mutable_processing_timeout()->set_seconds(30);
    ws::EnsureConsumerResponse res;
    const auto status = events->EnsureConsumer(deadline().get(), req, &res);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return res.id();
  }
  grpc::Status publish(const std::string& subject, const std::string& text,
                       std::uint64_t* id = nullptr, std::chrono::milliseconds timeout = 5s) {
    ws::PublishEventRequest req;
    req.set_subject(subject);
    google::protobuf::StringValue body;
    body.set_value(text);
    req.mutable_data()->PackFrom(body);
    ws::PublishEventResponse res;
    auto status = events->PublishEvent(deadline(timeout).get(), req, &res);
    if (id != nullptr) *id = res.id();
    return status;
  }

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<ws::EventsService::Stub> events;
  std::unique_ptr<st::StateService::Stub> state;
};

/// An open Events call, subscribed to `consumer` of `stream`.
struct Subscription {
  Subscription(Client& client, const std::string& stream, const std::string& consumer,
               std::chrono::milliseconds timeout = 30s)
      : ctx(deadline(timeout)), call(client.events->Events(ctx.get())) {
    ws::EventsRequest subscribe;
    subscribe.mutable_subscribe()->set_stream(stream);
    subscribe.mutable_subscribe()->set_consumer(consumer);
    EXPECT_TRUE(call->Write(subscribe));
    ws::EventsResponse first;
    EXPECT_TRUE(call->Read(&first) && first.has_subscribed()) << first.DebugString();
  }
  /// The next event (confirmations in between are skipped); nullopt when the call ended.
  std::optional<ws::Event> next() {
    ws::EventsResponse response;
    while (call->Read(&response)) {
      if (response.has_event()) return response.event();
    }
    return std::nullopt;
  }
  void ack(std::uint64_t id) {
    ws::EventsRequest ack;
    ack.mutable_ack()->add_ids(id);
    EXPECT_TRUE(call->Write(ack));
  }
  grpc::Status finish() {
    ctx->TryCancel();
    return call->Finish();
  }

  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientReaderWriter<ws::EventsRequest, ws::EventsResponse>> call;
};

std::string text_of(const ws::Event& event) {
  google::protobuf::StringValue body;
  EXPECT_TRUE(event.data().UnpackTo(&body)) << event.DebugString();
  return body.value();
}

TEST(ReflexdWindshift, HostsBothServicesHealthyAndListedAndServesStateAndEvents) {
  Reflexd daemon({}, windshift_env(reflex_test::required_env("REFLEX_TEST_NATS_URL")));
  ASSERT_TRUE(daemon.started()) << daemon.err();
  Client client(daemon.grpc());
  EXPECT_TRUE(reflex_test::eventually(
      [&] { return rgrpc_test::health_check(client.channel, kEvents) == 1; }, 5s));
  EXPECT_EQ(rgrpc_test::health_check(client.channel, kState), 1);
  const auto listing = reflection_list(client.channel);
  EXPECT_NE(listing.find(kEvents), std::string::npos) << listing;
  EXPECT_NE(listing.find(kState), std::string::npos) << listing;

  // State: a store, a key set, read back with its revision; a missing key is NOT a value.
  const std::string store = reflex_test::unique_name("reflexd_store");
  st::EnsureStoreRequest ensure;
  ensure.set_store(store);
  st::EnsureStoreResponse ensured;
  ASSERT_TRUE(client.state->EnsureStore(deadline().get(), ensure, &ensured).ok());
  st::SetRequest set;
  set.set_store(store);
  set.set_key("greeting");
  google::protobuf::StringValue hello;
  hello.set_value("hello");
  set.mutable_value()->PackFrom(hello);
  st::SetResponse written;
  ASSERT_TRUE(client.state->Set(deadline().get(), set, &written).ok());
  st::GetRequest get;
  get.set_store(store);
  get.set_key("greeting");
  st::GetResponse read;
  ASSERT_TRUE(client.state->Get(deadline().get(), get, &read).ok());
  EXPECT_EQ(read.revision(), written.revision());
  google::protobuf::StringValue back;
  ASSERT_TRUE(read.has_value() && read.value().UnpackTo(&back));
  EXPECT_EQ(back.value(), "hello");
  get.set_key("nobody");
  st::GetResponse missing;
  ASSERT_TRUE(client.state->Get(deadline().get(), get, &missing).ok());
  EXPECT_FALSE(missing.has_value());

  // Events: published, received in order, acknowledged; an unbound subject is NOT_FOUND.
  const std::string stream = reflex_test::unique_name("REFLEXD_WS");
  ASSERT_TRUE(client.ensure_stream(stream).ok());
  const auto consumer = client.ensure_consumer(stream, "reader");
  for (const char* text : {"one", "two"}) {
    ASSERT_TRUE(client.publish(stream + ".created", text).ok());
  }
  const auto unbound = client.publish(stream + "_nowhere.created", "lost");
  EXPECT_EQ(unbound.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(unbound.error_message().find(stream + "_nowhere.created"), std::string::npos);
  Subscription sub(client, stream, consumer);
  for (const char* text : {"one", "two"}) {
    const auto event = sub.next();
    ASSERT_TRUE(event);
    EXPECT_EQ(text_of(*event), text);
    sub.ack(event->id());
  }
  (void)sub.finish();
}

TEST(ReflexdWindshift, SigtermEndsAnOpenEventsStreamAndTheNextReflexdDeliversItsEventAgain) {
  const std::string url = reflex_test::required_env("REFLEX_TEST_NATS_URL");
  const std::string stream = reflex_test::unique_name("REFLEXD_DRAIN");
  std::string consumer;
  std::uint64_t id = 0;
  {
    Reflexd daemon({}, windshift_env(url));
    ASSERT_TRUE(daemon.started()) << daemon.err();
    Client client(daemon.grpc());
    ASSERT_TRUE(client.ensure_stream(stream).ok());
    consumer = client.ensure_consumer(stream, "worker");
    ASSERT_TRUE(client.publish(stream + ".job", "job 1", &id).ok());
    Subscription sub(client, stream, consumer);
    const auto event = sub.next();
    ASSERT_TRUE(event);
    EXPECT_EQ(event->id(), id);
    // Not acknowledged: SIGTERM ends the stream, reflexd exits 0 within its drain deadline.
    const auto before = std::chrono::steady_clock::now();
    daemon.signal(SIGTERM);
    EXPECT_FALSE(sub.next());
    const auto status = sub.call->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    EXPECT_EQ(daemon.wait(15s), 0) << daemon.err();
    EXPECT_LT(std::chrono::steady_clock::now() - before, 12s);
  }
  Reflexd next({}, windshift_env(url));
  ASSERT_TRUE(next.started()) << next.err();
  Client client(next.grpc());
  Subscription sub(client, stream, consumer);
  const auto again = sub.next();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id(), id);
  EXPECT_EQ(text_of(*again), "job 1");
  sub.ack(again->id());
  (void)sub.finish();
}

TEST(ReflexdWindshiftRestart, AnOpenSubscriptionGetsEventsPublishedAfterANatsRestart) {
  reflex_test::OwnServices nats("nats");
  Reflexd daemon({}, windshift_env(nats.env("REFLEX_TEST_NATS_URL")));
  ASSERT_TRUE(daemon.started()) << daemon.err();
  Client client(daemon.grpc());
  const std::string stream = "RESTART";
  ASSERT_TRUE(reflex_test::eventually([&] { return client.ensure_stream(stream).ok(); }, 10s));
  const auto consumer = client.ensure_consumer(stream, "survivor");
  ASSERT_TRUE(client.publish(stream + ".before", "before").ok());
  Subscription sub(client, stream, consumer, 60s);
  auto event = sub.next();
  ASSERT_TRUE(event);
  EXPECT_EQ(text_of(*event), "before");
  sub.ack(event->id());

  nats.stop();
  // Gone indeed: a publish is not acknowledged while it is down (the client may still send it
  // on reconnecting, as any unacknowledged publish may be stored: it can come before "after").
  EXPECT_FALSE(client.publish(stream + ".during", "during", nullptr, 500ms).ok());
  nats.start();
  // Publishing works again once reflexd's connection is back; the open stream carries on.
  EXPECT_TRUE(reflex_test::eventually(
      [&] { return client.publish(stream + ".after", "after").ok(); }, 20s));
  for (;;) {
    event = sub.next();
    ASSERT_TRUE(event) << daemon.err();
    const std::string text = text_of(*event);
    sub.ack(event->id());
    if (text == "after") break;
    EXPECT_EQ(text, "during");
  }
  (void)sub.finish();
}

TEST_F(ReflexdTest, ARelayedSqlOutboxReachesAWindshiftSubscriberThroughReflexd) {
  const std::string url = reflex_test::required_env("REFLEX_TEST_NATS_URL");
  const std::string stream = reflex_test::unique_name("REFLEXD_OUTBOX");
  publish(3);
  const auto relay = reflexctl_test::run(
      {"relay", "sqlite://" + path + "?table=events",
       url + "?stream=" + stream + "&subject=" + stream + ".events", "--consumer", "outbox",
       "--to-head", "--create-stream", "--format", "windshift"});
  ASSERT_EQ(relay.status, 0) << relay.err;

  Reflexd daemon({}, windshift_env(url));
  ASSERT_TRUE(daemon.started()) << daemon.err();
  Client client(daemon.grpc());
  const auto consumer = client.ensure_consumer(stream, "windshift-reader", true);
  Subscription sub(client, stream, consumer);
  for (int i = 1; i <= 3; ++i) {
    const auto event = sub.next();
    ASSERT_TRUE(event);
    EXPECT_EQ(event->subject(), stream + ".events");
    EXPECT_EQ(event->data().type_url(), "type.googleapis.com/reflexpb.Event");
    reflexpb::Event outbox;
    ASSERT_TRUE(event->data().UnpackTo(&outbox));
    EXPECT_EQ(outbox.id(), std::to_string(i));
    EXPECT_EQ(outbox.foreign_id(), "f" + std::to_string(i));
    EXPECT_EQ(outbox.type(), 1);
    EXPECT_EQ(event->headers().idempotency_key(), "outbox:" + std::to_string(i));
    sub.ack(event->id());
  }
  (void)sub.finish();
}

}  // namespace
