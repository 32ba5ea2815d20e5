// EnsureStream: declarative create and update, sources, retention, discard, storage and the
// inputs windshift refuses.
#include <gtest/gtest.h>

#include "windshift_test.hpp"

namespace rwindshift_test {
namespace {

namespace rnats = reflex::rnats;

class StreamsTest : public ::testing::Test {
 protected:
  rnats::Connection nats_ = reflex_test::connect("rwindshift-streams");
  Server server_{nats_};
  std::unique_ptr<ev::EventsService::Stub> stub_ = server_.events();
  Streams streams_{nats_};
};

TEST_F(StreamsTest, CreatesAStreamWithWindshiftsDefaults) {
  const auto name = streams_.name();
  ASSERT_TRUE(ensure_stream(*stub_, subjects_stream(name)).ok());
  const auto info = rnats::stream_info(nats_, name);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->config.subjects, std::vector<std::string>{name + ".>"});
  EXPECT_EQ(info->config.duplicate_window, std::chrono::minutes(2));
  EXPECT_EQ(info->config.replicas, 1);
  EXPECT_EQ(info->config.storage, rnats::Storage::memory);
  EXPECT_EQ(info->config.discard, rnats::Discard::old_messages);
}

TEST_F(StreamsTest, AnUpdateReturnsLeftOutFieldsToTheirDefaults) {
  const auto name = streams_.name();
  auto req = subjects_stream(name, {name + ".a", name + ".b"});
  auto& policy = *req.mutable_retention_policy();
  set_duration(policy.mutable_max_age(), 1h);
  policy.set_max_events(100);
  policy.set_max_events_per_subject(10);
  policy.set_max_bytes(1 << 20);
  policy.set_discard_policy(ev::EnsureStreamRequest::DISCARD_POLICY_NEW);
  policy.set_discard_new_per_subject(true);
  set_duration(req.mutable_deduplication_window(), 30s);
  req.set_max_event_size(4096);
  ASSERT_TRUE(ensure_stream(*stub_, req).ok());
  auto info = rnats::stream_info(nats_, name);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->config.subjects, (std::vector<std::string>{name + ".a", name + ".b"}));
  EXPECT_EQ(info->config.max_age, 1h);
  EXPECT_EQ(info->config.max_events, 100);
  EXPECT_EQ(info->config.max_events_per_subject, 10);
  EXPECT_EQ(info->config.max_bytes, 1 << 20);
  EXPECT_EQ(info->config.discard, rnats::Discard::new_messages);
  EXPECT_TRUE(info->config.discard_new_per_subject);
  EXPECT_EQ(info->config.duplicate_window, 30s);
  EXPECT_EQ(info->config.max_event_size, 4096);

  ASSERT_TRUE(ensure_stream(*stub_, subjects_stream(name, {name + ".a"})).ok());
  info = rnats::stream_info(nats_, name);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->config.subjects, std::vector<std::string>{name + ".a"});
  EXPECT_EQ(info->config.max_age, 0ms);
  EXPECT_EQ(info->config.max_events, 0);
  EXPECT_EQ(info->config.max_events_per_subject, 0);
  EXPECT_EQ(info->config.max_bytes, 0);
  EXPECT_EQ(info->config.discard, rnats::Discard::old_messages);
  EXPECT_FALSE(info->config.discard_new_per_subject);
  EXPECT_EQ(info->config.duplicate_window, std::chrono::minutes(2));
  EXPECT_EQ(info->config.max_event_size, 0);
}

TEST_F(StreamsTest, MaxEventsWithDiscardOldKeepsTheNewest) {
  const auto name = streams_.name();
  auto req = subjects_stream(name);
  req.mutable_retention_policy()->set_max_events(2);
  ASSERT_TRUE(ensure_stream(*stub_, req).ok());
  for (int i = 0; i < 3; ++i) publish(*stub_, name + ".x", "e" + std::to_string(i));
  const auto info = rnats::stream_info(nats_, name);
  EXPECT_EQ(info->messages, 2u);
  EXPECT_EQ(info->first_sequence, 2u);
}

TEST_F(StreamsTest, DiscardNewRefusesAnEventBeyondTheLimit) {
  const auto name = streams_.name();
  auto req = subjects_stream(name);
  req.mutable_retention_policy()->set_max_events(1);
  req.mutable_retention_policy()->set_discard_policy(ev::EnsureStreamRequest::DISCARD_POLICY_NEW);
  ASSERT_TRUE(ensure_stream(*stub_, req).ok());
  publish(*stub_, name + ".x", "first");
  ev::PublishEventRequest pub;
  pub.set_subject(name + ".x");
  *pub.mutable_data() = any_string("second");
  ev::PublishEventResponse res;
  const auto s = stub_->PublishEvent(context().get(), pub, &res);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(rnats::stream_info(nats_, name)->messages, 1u);
}

TEST_F(StreamsTest, DiscardNewPerSubjectCountsEachSubject) {
  const auto name = streams_.name();
  auto req = subjects_stream(name);
  auto& p = *req.mutable_retention_policy();
  p.set_max_events_per_subject(1);
  p.set_discard_policy(ev::EnsureStreamRequest::DISCARD_POLICY_NEW);
  p.set_discard_new_per_subject(true);
  ASSERT_TRUE(ensure_stream(*stub_, req).ok());
  publish(*stub_, name + ".a", "a1");
  publish(*stub_, name + ".b", "b1");
  ev::PublishEventRequest pub;
  pub.set_subject(name + ".a");
  *pub.mutable_data() = any_string("a2");
  ev::PublishEventResponse res;
  EXPECT_FALSE(stub_->PublishEvent(context().get(), pub, &res).ok());
  EXPECT_EQ(rnats::stream_info(nats_, name)->messages, 2u);
}

TEST_F(StreamsTest, AMirrorCopiesAnotherStreamFromItsPointer) {
  const auto origin = streams_.name();
  ASSERT_TRUE(ensure_stream(*stub_, subjects_stream(origin)).ok());
  publish(*stub_, origin + ".x", "one");
  const auto second = publish(*stub_, origin + ".x", "two");
  const auto mirror = streams_.name("mirror");
  ev::EnsureStreamRequest req;
  req.set_name(mirror);
  req.mutable_mirror()->set_name(origin);
  req.mutable_mirror()->mutable_from()->set_offset(second);
  req.mutable_storage()->set_type(ev::EnsureStreamRequest::STORAGE_TYPE_MEMORY);
  ASSERT_TRUE(ensure_stream(*stub_, req).ok());
  ASSERT_TRUE(reflex_test::eventually(
      [&] { return rnats::stream_info(nats_, mirror)->messages == 1; }, 5s));
  const auto info = rnats::stream_info(nats_, mirror);
  ASSERT_TRUE(info->config.mirror);
  EXPECT_EQ(info->config.mirror->name, origin);
}

TEST_F(StreamsTest, AnAggregateCollectsFilteredSources) {
  const auto a = streams_.name("a");
  const auto b = streams_.name("b");
  ASSERT_TRUE(ensure_stream(*stub_, subjects_stream(a)).ok());
  ASSERT_TRUE(ensure_stream(*stub_, subjects_stream(b)).ok());
  publish(*stub_, a + ".keep", "a-keep");
  publish(*stub_, a + ".drop", "a-drop");
  publish(*stub_, b + ".keep", "b-keep");
  const auto all = streams_.name("all");
  ev::EnsureStreamRequest req;
  req.set_name(all);
  auto* src_a = req.mutable_aggregate()->add_sources();
  src_a->set_name(a);
  src_a->add_filter_subjects(a + ".keep");
  src_a->mutable_from()->set_start(true);
  auto* src_b = req.mutable_aggregate()->add_sources();
  src_b->set_name(b);
  req.mutable_storage()->set_type(ev::EnsureStreamRequest::STORAGE_TYPE_MEMORY);
  ASSERT_TRUE(ensure_stream(*stub_, req).ok());
  ASSERT_TRUE(
      reflex_test::eventually([&] { return rnats::stream_info(nats_, all)->messages == 2; }, 5s));
  EXPECT_EQ(rnats::stream_info(nats_, all)->config.sources.size(), 2u);
}

void expect_invalid(const grpc::Status& s, const std::string& reason) {
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find(reason), std::string::npos) << s.error_message();
}

TEST_F(StreamsTest, BadStreamsAreInvalidArgumentsWithTheReason) {
  auto req = subjects_stream("bad.name");
  expect_invalid(ensure_stream(*stub_, req), "invalid stream name: bad.name");
  req = subjects_stream("");
  expect_invalid(ensure_stream(*stub_, req), "invalid stream name");

  const auto name = streams_.name();
  ev::EnsureStreamRequest none;
  none.set_name(name);
  expect_invalid(ensure_stream(*stub_, none), "a source must be specified");

  expect_invalid(ensure_stream(*stub_, subjects_stream(name, {"a..b"})), "invalid subject: a..b");
  expect_invalid(ensure_stream(*stub_, subjects_stream(name, {"a.>.b"})), "invalid subject");

  req = subjects_stream(name);
  req.mutable_storage()->set_replicas(0);
  expect_invalid(ensure_stream(*stub_, req), "replicas must be greater than 0");

  ev::EnsureStreamRequest mirror;
  mirror.set_name(name);
  mirror.mutable_mirror()->set_name("no/such");
  expect_invalid(ensure_stream(*stub_, mirror), "invalid stream name: no/such");

  // NATS's own refusal (storage cannot change) comes back with its reason too.
  ASSERT_TRUE(ensure_stream(*stub_, subjects_stream(name)).ok());
  req = subjects_stream(name);
  req.mutable_storage()->set_type(ev::EnsureStreamRequest::STORAGE_TYPE_FILE);
  const auto s = ensure_stream(*stub_, req);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_FALSE(s.error_message().empty());
}

}  // namespace
}  // namespace rwindshift_test
