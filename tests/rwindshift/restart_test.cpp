// An nats-server of the test's own restarts under open Events streams: the streams stay open,
// publishing works again, and nothing published is lost.
#include <gtest/gtest.h>

#include "reflex_test/services.hpp"
#include "windshift_test.hpp"

namespace rwindshift_test {
namespace {

namespace rnats = reflex::rnats;

TEST(NatsRestart, OpenSubscriptionsCarryOnAndNothingIsLost) {
  reflex_test::OwnServices services("nats");
  rnats::Connection nats(rnats::ConnectOptions{.url = services.env("REFLEX_TEST_NATS_URL"),
                                               .name = "rwindshift-restart",
                                               .request_timeout = 2s});
  Server server(nats);
  auto stub = server.events();
  const auto stream = reflex_test::unique_name("restart");
  auto req = subjects_stream(stream);
  req.mutable_storage()->set_type(ev::EnsureStreamRequest::STORAGE_TYPE_FILE);
  ASSERT_TRUE(ensure_stream(*stub, req).ok());
  const auto consumer = ensure_consumer(*stub, stream, "c", 2s);
  Subscriber sub(*stub, stream, consumer);
  ASSERT_TRUE(sub.subscribed());
  publish(*stub, stream + ".x", "before");
  auto e = sub.next_event();
  ASSERT_TRUE(e);
  sub.ack({e->id()});
  ASSERT_TRUE(sub.next_confirmation());
  // An Ack is confirmed once it is sent to NATS (as windshift does), not once JetStream stored
  // it: wait for the server to have it before stopping the server, or a restart may deliver
  // "before" again (at least once) and the assertion below would see that, not the restart.
  ASSERT_TRUE(reflex_test::eventually(
      [&] {
        const auto info = rnats::consumer_info(nats, stream, consumer);
        return info && info->ack_pending == 0;
      },
      5s));

  services.stop();
  services.start();
  ASSERT_TRUE(reflex_test::eventually([&] { return nats.connected(); }, 15s));

  // Publishing works again once JetStream is back.
  ASSERT_TRUE(reflex_test::eventually(
      [&] {
        ev::PublishEventRequest p;
        p.set_subject(stream + ".x");
        *p.mutable_data() = any_string("after");
        p.set_idempotency_key("after-1");
        ev::PublishEventResponse res;
        return stub->PublishEvent(context(3s).get(), p, &res).ok();
      },
      20s));
  e = sub.next_event(15s);
  ASSERT_TRUE(e) << "the open stream did not carry on after the restart";
  EXPECT_EQ(string_of(e->data()), "after");
  sub.ack({e->id()});
}

}  // namespace
}  // namespace rwindshift_test
