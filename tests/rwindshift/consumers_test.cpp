// EnsureConsumer and DeleteConsumer: durable and ephemeral, filters, start pointers, timeouts.
#include <gtest/gtest.h>

#include "windshift_test.hpp"

namespace rwindshift_test {
namespace {

namespace rnats = reflex::rnats;

class ConsumersTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(ensure_stream(*stub_, subjects_stream(stream_)).ok()); }

  grpc::Status ensure(const ev::EnsureConsumerRequest& req, std::string* id = nullptr) {
    ev::EnsureConsumerResponse res;
    auto s = stub_->EnsureConsumer(context().get(), req, &res);
    if (id) *id = res.id();
    return s;
  }
  ev::EnsureConsumerRequest request(std::optional<std::string> name = {}) {
    ev::EnsureConsumerRequest req;
    req.set_stream(stream_);
    if (name) req.set_name(*name);
    req.add_subjects(stream_ + ".>");
    return req;
  }
  std::vector<std::string> received(const std::string& consumer, std::size_t n) {
    Subscriber sub(*stub_, stream_, consumer);
    std::vector<std::string> out;
    while (out.size() < n) {
      auto e = sub.next_event(3s);
      if (!e) break;
      out.push_back(string_of(e->data()));
      sub.ack({e->id()});
    }
    // Nothing more.
    if (auto extra = sub.next_event(200ms)) out.push_back(string_of(extra->data()));
    return out;
  }

  rnats::Connection nats_ = reflex_test::connect("rwindshift-consumers");
  Server server_{nats_};
  std::unique_ptr<ev::EventsService::Stub> stub_ = server_.events();
  Streams streams_{nats_};
  std::string stream_ = streams_.name();
};

TEST_F(ConsumersTest, ADurableConsumerIsNamedAndKeepsWindshiftsSettings) {
  auto req = request("orders");
  set_duration(req.mutable_processing_timeout(), 1500ms);
  std::string id;
  ASSERT_TRUE(ensure(req, &id).ok());
  EXPECT_EQ(id, "orders");
  const auto info = rnats::consumer_info(nats_, stream_, "orders");
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->durable);
  EXPECT_EQ(info->config.processing_timeout, 1500ms);
  EXPECT_EQ(info->config.filter_subject, stream_ + ".>");
  EXPECT_TRUE(info->config.pull);

  // Updated in place: the timeout changes, the id stays.
  req.clear_processing_timeout();
  ASSERT_TRUE(ensure(req, &id).ok());
  EXPECT_EQ(rnats::consumer_info(nats_, stream_, "orders")->config.processing_timeout, 30s);
}

TEST_F(ConsumersTest, AnEphemeralConsumerGetsAnIdOfItsOwn) {
  std::string a, b;
  ASSERT_TRUE(ensure(request(), &a).ok());
  ASSERT_TRUE(ensure(request(), &b).ok());
  EXPECT_FALSE(a.empty());
  EXPECT_NE(a, b);
  const auto info = rnats::consumer_info(nats_, stream_, a);
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->durable);
}

TEST_F(ConsumersTest, StartPointersChooseTheFirstEvent) {
  publish(*stub_, stream_ + ".x", "one");
  const auto two = publish(*stub_, stream_ + ".x", "two");
  std::string id;

  auto start = request("from-start");
  start.mutable_from()->set_start(true);
  ASSERT_TRUE(ensure(start, &id).ok());
  auto end = request("from-end");
  end.mutable_from()->set_end(true);
  ASSERT_TRUE(ensure(end, &id).ok());
  auto none = request("from-default");
  ASSERT_TRUE(ensure(none, &id).ok());
  auto offset = request("from-offset");
  offset.mutable_from()->set_offset(two);
  ASSERT_TRUE(ensure(offset, &id).ok());
  // A time between "two" and "three".
  std::this_thread::sleep_for(20ms);
  const auto between = std::chrono::system_clock::now();
  std::this_thread::sleep_for(20ms);
  auto time = request("from-time");
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(between.time_since_epoch());
  time.mutable_from()->mutable_time()->set_seconds(ns.count() / 1000000000);
  time.mutable_from()->mutable_time()->set_nanos(static_cast<int>(ns.count() % 1000000000));
  ASSERT_TRUE(ensure(time, &id).ok());

  publish(*stub_, stream_ + ".x", "three");
  EXPECT_EQ(received("from-start", 3), (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(received("from-end", 1), std::vector<std::string>{"three"});
  EXPECT_EQ(received("from-default", 1), std::vector<std::string>{"three"});
  EXPECT_EQ(received("from-offset", 2), (std::vector<std::string>{"two", "three"}));
  EXPECT_EQ(received("from-time", 1), std::vector<std::string>{"three"});
}

TEST_F(ConsumersTest, SubjectFiltersPickEvents) {
  publish(*stub_, stream_ + ".a", "a");
  publish(*stub_, stream_ + ".b", "b");
  publish(*stub_, stream_ + ".c", "c");
  auto one = request("one");
  one.clear_subjects();
  one.add_subjects(stream_ + ".b");
  one.mutable_from()->set_start(true);
  ASSERT_TRUE(ensure(one).ok());
  auto two = request("two");
  two.clear_subjects();
  two.add_subjects(stream_ + ".a");
  two.add_subjects(stream_ + ".c");
  two.mutable_from()->set_start(true);
  ASSERT_TRUE(ensure(two).ok());
  EXPECT_EQ(received("one", 1), std::vector<std::string>{"b"});
  EXPECT_EQ(received("two", 2), (std::vector<std::string>{"a", "c"}));
}

TEST_F(ConsumersTest, DeleteConsumerRemovesItAndAnUnknownOneIsNotFound) {
  ASSERT_TRUE(ensure(request("gone")).ok());
  ev::DeleteConsumerRequest del;
  del.set_stream(stream_);
  del.set_id("gone");
  ev::DeleteConsumerResponse res;
  ASSERT_TRUE(stub_->DeleteConsumer(context().get(), del, &res).ok());
  EXPECT_FALSE(rnats::consumer_info(nats_, stream_, "gone"));
  auto s = stub_->DeleteConsumer(context().get(), del, &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_NE(s.error_message().find("gone"), std::string::npos);
  del.set_stream(reflex_test::unique_name("nostream"));
  s = stub_->DeleteConsumer(context().get(), del, &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  del.set_stream("bad.stream");
  s = stub_->DeleteConsumer(context().get(), del, &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ConsumersTest, BadConsumersAreInvalidArgumentsAndAnUnknownStreamIsNotFound) {
  auto req = request("ok");
  req.set_stream("bad stream");
  auto s = ensure(req);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "invalid stream: bad stream");
  req = request("ok");
  req.clear_subjects();
  s = ensure(req);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "one or more subjects must be specified");
  req = request("ok");
  req.add_subjects("x..y");
  s = ensure(req);
  EXPECT_EQ(s.error_message(), "invalid subject: x..y");
  req = request("not.ok");
  s = ensure(req);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "invalid consumer name: not.ok");
  req = request("ok");
  req.set_stream(reflex_test::unique_name("nostream"));
  s = ensure(req);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
}

}  // namespace
}  // namespace rwindshift_test
