// stategate's EntityService and EventService over gRPC on reflex::rstate, on each dialect (a
// temp-file SQLite, the test PostgreSQL and MariaDB), through clients generated from the proto.

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "reflex/rsql/database.hpp"
#include "reflex/rstate/schema.hpp"
#include "reflex/rstategate/entity_service.hpp"
#include "reflex/uuid.hpp"
#include "reflex_test/dialects.hpp"
#include "reflex_test/env.hpp"
#include "stategate/schema.grpc.pb.h"

namespace {

using namespace std::chrono_literals;
namespace sg = ::stategate;
namespace rs = reflex::rstategate;

constexpr const char* kToken = "entity-token";

using reflex::rsql::Dialect;
using reflex_test::dialect_name;

std::unique_ptr<grpc::ClientContext> context(
    const std::string& authorization = std::string("Bearer ") + kToken) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + 10s);
  if (!authorization.empty()) ctx->AddMetadata("authorization", authorization);
  return ctx;
}

google::protobuf::Struct json_struct(const std::string& json) {
  google::protobuf::Struct out;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &out).ok()) << json;
  return out;
}

std::string json_of(const google::protobuf::Message& message) {
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(message, &out).ok());
  return out;
}

/// Equal values whatever the order of their keys (a Struct's fields are a map).
::testing::AssertionResult same(const google::protobuf::Struct& a,
                                const google::protobuf::Struct& b) {
  if (google::protobuf::util::MessageDifferencer::Equals(a, b))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << json_of(a) << " vs " << json_of(b);
}

sg::Entity entity(const std::string& key, const std::string& values,
                  const std::string& type = "order") {
  sg::Entity e;
  e.set_domain("shop");
  e.set_type(type);
  e.set_key(key);
  *e.mutable_values() = json_struct(values);
  return e;
}

sg::EntityRef ref(const std::string& key) {
  sg::EntityRef r;
  r.set_domain("shop");
  r.set_type("order");
  r.set_key(key);
  return r;
}

/// One EventService.Stream call read on a thread of its own. Returns from the constructor once
/// the server subscribed (its initial metadata arrived).
class EventReader {
 public:
  EventReader(sg::EventService::Stub& stub, const std::string& domain, const std::string& type,
              const std::string& group = "") {
    ctx_.set_deadline(std::chrono::system_clock::now() + 60s);
    ctx_.AddMetadata("authorization", std::string("Bearer ") + kToken);
    sg::StreamEventOpts opts;
    opts.set_domain(domain);
    opts.set_type(type);
    opts.set_consumer_group(group);
    call_ = stub.Stream(&ctx_, opts);
    call_->WaitForInitialMetadata();
    reader_ = std::thread([this] {
      sg::Event event;
      while (call_->Read(&event)) {
        std::lock_guard lock(mu_);
        events_.push_back(event);
        cv_.notify_all();
      }
      std::lock_guard lock(mu_);
      done_ = true;
      cv_.notify_all();
    });
  }
  ~EventReader() {
    ctx_.TryCancel();
    if (reader_.joinable()) reader_.join();
    if (!finished_) (void)call_->Finish();
  }
  std::optional<sg::Event> next(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !events_.empty() || done_; });
    if (events_.empty()) return std::nullopt;
    auto e = events_.front();
    events_.pop_front();
    return e;
  }
  std::size_t received() {
    std::lock_guard lock(mu_);
    return events_.size();
  }
  grpc::Status finish() {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, 5s, [&] { return done_; });
    }
    reader_.join();
    finished_ = true;
    return call_->Finish();
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<sg::Event>> call_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<sg::Event> events_;
  bool done_ = false;
  bool finished_ = false;
};

class EntityServiceTest : public ::testing::TestWithParam<Dialect> {
 protected:
  EntityServiceTest() {
    dsn_ = reflex_test::dialect_dsn(GetParam(), dir_.path(), "entities.db");
    database_ = reflex::rsql::Database::open(dsn_);
    schema_ = {.entities_table = reflex_test::unique_name("sg_ent"),
               .events_table = reflex_test::unique_name("sg_ev")};
    database_->execute(reflex::rstate::entities_ddl(database_->dialect(), schema_));
    entities_.emplace(database_, reflex::rstate::EntitiesOptions{.schema = schema_});
    entity_service_.emplace(*entities_, rs::Identity({.token = kToken}));
    event_service_.emplace(*entities_, rs::Identity({.token = kToken}));
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(entity_service_->service());
    builder.RegisterService(event_service_->service());
    server_ = builder.BuildAndStart();
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                   grpc::InsecureChannelCredentials());
    entity_stub_ = sg::EntityService::NewStub(channel_);
    event_stub_ = sg::EventService::NewStub(channel_);
  }
  ~EntityServiceTest() override {
    stop();
    try {
      const bool pg = database_->dialect() == reflex::rsql::Dialect::postgres;
      const auto q = [&](const std::string& n) { return pg ? "\"" + n + "\"" : "`" + n + "`"; };
      database_->execute("DROP TABLE IF EXISTS " + q(schema_.events_table) +
                         ";\nDROP TABLE IF EXISTS " + q(schema_.entities_table));
    } catch (...) {
    }
  }
  void stop() {
    if (!server_) return;
    entity_service_->shutdown();
    event_service_->shutdown();
    server_->Shutdown(std::chrono::system_clock::now() + 2s);
    server_->Wait();
    server_.reset();
  }

  grpc::Status set(const sg::Entity& e,
                   const std::string& authorization = std::string("Bearer ") + kToken) {
    google::protobuf::Empty empty;
    return entity_stub_->Set(context(authorization).get(), e, &empty);
  }
  std::optional<sg::Entity> get(const std::string& key) {
    sg::Entity out;
    auto status = entity_stub_->Get(context().get(), ref(key), &out);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) return std::nullopt;
    EXPECT_TRUE(status.ok()) << status.error_message();
    return out;
  }
  std::vector<sg::Event> history(const std::string& query = "") {
    sg::SearchEventOpts opts;
    opts.set_domain("shop");
    opts.set_type("order");
    opts.set_query_string(query);
    opts.set_limit(1000);
    sg::Events out;
    auto status = event_stub_->Search(context().get(), opts, &out);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {out.events().begin(), out.events().end()};
  }

  reflex_test::TempDir dir_;
  std::string dsn_;
  std::shared_ptr<reflex::rsql::Database> database_;
  reflex::rstate::EntitiesSchema schema_;
  std::optional<reflex::rstate::Entities> entities_;
  std::optional<rs::EntityService> entity_service_;
  std::optional<rs::EventService> event_service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<sg::EntityService::Stub> entity_stub_;
  std::unique_ptr<sg::EventService::Stub> event_stub_;
};

TEST_P(EntityServiceTest, SetGetEditAndDelEachCommitTheirEventWithMethodAndClaims) {
  ASSERT_TRUE(set(entity("o-1", R"({"status": "open", "total": 12})")).ok());
  auto got = get("o-1");
  ASSERT_TRUE(got);
  EXPECT_TRUE(same(got->values(), json_struct(R"({"status": "open", "total": 12})")));

  sg::Entity after;
  ASSERT_TRUE(
      entity_stub_->Edit(context().get(), entity("o-1", R"({"status": "paid"})"), &after).ok());
  EXPECT_TRUE(same(after.values(), json_struct(R"({"status": "paid", "total": 12})")));
  EXPECT_EQ(after.key(), "o-1");

  google::protobuf::Empty empty;
  ASSERT_TRUE(entity_stub_->Del(context().get(), ref("o-1"), &empty).ok());
  EXPECT_FALSE(get("o-1"));
  EXPECT_EQ(entity_stub_->Del(context().get(), ref("o-1"), &empty).error_code(),
            grpc::StatusCode::NOT_FOUND);

  const auto events = history();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].method(), "/stategate.EntityService/Set");
  EXPECT_EQ(events[1].method(), "/stategate.EntityService/Edit");
  EXPECT_EQ(events[2].method(), "/stategate.EntityService/Del");
  EXPECT_TRUE(same(events[2].entity().values(), after.values()))
      << "the del event keeps the last values";
  for (const auto& e : events) {
    EXPECT_TRUE(reflex::is_uuid_v4(e.id())) << e.id();
    EXPECT_GT(e.time(), 0);
    EXPECT_TRUE(e.has_claims());
  }
  sg::EventRef by_id;
  by_id.set_domain("shop");
  by_id.set_type("order");
  by_id.set_key("o-1");
  by_id.set_id(events[1].id());
  sg::Event one;
  ASSERT_TRUE(event_stub_->Get(context().get(), by_id, &one).ok());
  EXPECT_EQ(one.method(), "/stategate.EntityService/Edit");
  by_id.set_id(reflex::random_uuid());
  EXPECT_EQ(event_stub_->Get(context().get(), by_id, &one).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_P(EntityServiceTest, RevertGoesBackToTheFirstVersionAsANewEvent) {
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(set(entity("o-1", R"({"n": )" + std::to_string(i) + "}")).ok());
  }
  const auto events = history();
  ASSERT_EQ(events.size(), 5u);
  sg::EventRef to;
  to.set_domain("shop");
  to.set_type("order");
  to.set_key("o-1");
  to.set_id(events[0].id());
  sg::Entity reverted;
  ASSERT_TRUE(entity_stub_->Revert(context().get(), to, &reverted).ok());
  EXPECT_TRUE(same(reverted.values(), json_struct(R"({"n": 1})")));
  EXPECT_TRUE(same(get("o-1")->values(), json_struct(R"({"n": 1})")));
  const auto after = history();
  ASSERT_EQ(after.size(), 6u);
  EXPECT_EQ(after.back().method(), "/stategate.EntityService/Revert");
  to.set_key("o-2");  // an event of another entity
  EXPECT_EQ(entity_stub_->Revert(context().get(), to, &reverted).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_P(EntityServiceTest, BadInputAndMissingCredentialsAreRefusedBeforeAnythingIsWritten) {
  EXPECT_EQ(set(entity("o-1", "{}"), "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(set(entity("o-1", "{}"), "Bearer wrong").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  auto bad = entity("o 1", "{}");
  auto status = set(bad);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("key"), std::string::npos) << status.error_message();
  bad = entity("o-1", "{}");
  bad.clear_values();
  status = set(bad);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("values"), std::string::npos) << status.error_message();
  bad = entity("o-1", "{}");
  bad.set_domain("");
  EXPECT_EQ(set(bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  sg::EventRef no_uuid;
  no_uuid.set_domain("shop");
  no_uuid.set_type("order");
  no_uuid.set_key("o-1");
  no_uuid.set_id("12");
  sg::Entity out;
  EXPECT_EQ(entity_stub_->Revert(context().get(), no_uuid, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  sg::SearchEntityOpts no_limit;
  no_limit.set_domain("shop");
  no_limit.set_type("order");
  sg::Entities found;
  EXPECT_EQ(entity_stub_->Search(context().get(), no_limit, &found).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(history().empty());
}

TEST_P(EntityServiceTest, AnExpectedVersionInTheMetadataGuardsAChange) {
  ASSERT_TRUE(set(entity("o-1", R"({"a": 1})")).ok());
  google::protobuf::Empty empty;
  auto stale = context();
  stale->AddMetadata("x-expected-version", "5");
  auto status = entity_stub_->Set(stale.get(), entity("o-1", R"({"a": 2})"), &empty);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  auto current = context();
  current->AddMetadata("x-expected-version", "1");
  EXPECT_TRUE(entity_stub_->Set(current.get(), entity("o-1", R"({"a": 3})"), &empty).ok());
  auto malformed = context();
  malformed->AddMetadata("x-expected-version", "one");
  EXPECT_EQ(entity_stub_->Set(malformed.get(), entity("o-1", "{}"), &empty).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(same(get("o-1")->values(), json_struct(R"({"a": 3})")));
  EXPECT_EQ(history().size(), 2u);
}

TEST_P(EntityServiceTest, SearchFiltersSortsAndPagesOverGrpc) {
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(set(entity("c" + std::to_string(i),
                           R"({"open": )" + std::string(i % 2 ? "true" : "false") +
                               R"(, "total": )" + std::to_string(60 - i * 10) + "}"))
                    .ok());
  }
  sg::SearchEntityOpts opts;
  opts.set_domain("shop");
  opts.set_type("order");
  opts.set_query_string(R"({"open": true})");
  opts.set_limit(2);
  opts.mutable_sort()->set_field("total");
  sg::Entities found;
  ASSERT_TRUE(entity_stub_->Search(context().get(), opts, &found).ok());
  ASSERT_EQ(found.entities_size(), 2);
  EXPECT_EQ(found.entities(0).key(), "c5");  // total 10
  EXPECT_EQ(found.entities(1).key(), "c3");  // total 30
  opts.set_offset(2);
  ASSERT_TRUE(entity_stub_->Search(context().get(), opts, &found).ok());
  ASSERT_EQ(found.entities_size(), 1);
  EXPECT_EQ(found.entities(0).key(), "c1");
}

TEST_P(EntityServiceTest, EventSearchSelectsATimeRange) {
  std::vector<std::int64_t> times;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(set(entity("o-1", R"({"step": )" + std::to_string(i) + "}")).ok());
    std::this_thread::sleep_for(2ms);
  }
  for (const auto& e : history()) times.push_back(e.time());
  ASSERT_EQ(times.size(), 4u);
  sg::SearchEventOpts opts;
  opts.set_domain("shop");
  opts.set_type("order");
  opts.set_min(times[0]);
  opts.set_max(times[3]);
  opts.set_limit(10);
  sg::Events found;
  ASSERT_TRUE(event_stub_->Search(context().get(), opts, &found).ok());
  ASSERT_EQ(found.events_size(), 2);
  EXPECT_EQ(found.events(0).time(), times[1]);
  EXPECT_EQ(found.events(1).time(), times[2]);
}

TEST_P(EntityServiceTest, AStreamReceivesTheChangesOfMatchingDomainsAndTypesInOrder) {
  EventReader all(*event_stub_, "sh*", "*");
  EventReader orders(*event_stub_, "shop", "order");
  EventReader others(*event_stub_, "shop", "invoice");
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(set(entity("o-" + std::to_string(i), R"({"i": )" + std::to_string(i) + "}")).ok());
  }
  ASSERT_TRUE(set(entity("c-1", "{}", "customer")).ok());
  for (int i = 0; i < 5; ++i) {
    auto e = orders.next();
    ASSERT_TRUE(e) << "event " << i << " did not arrive";
    EXPECT_EQ(e->entity().key(), "o-" + std::to_string(i));
    EXPECT_EQ(e->method(), "/stategate.EntityService/Set");
  }
  std::vector<std::string> keys;
  for (int i = 0; i < 6; ++i) {
    auto e = all.next();
    ASSERT_TRUE(e);
    keys.push_back(e->entity().key());
  }
  EXPECT_EQ(keys.back(), "c-1");
  EXPECT_FALSE(orders.next(200ms)) << "the customer reached the order stream";
  EXPECT_FALSE(others.next(50ms)) << "an order reached the invoice stream";
}

TEST_P(EntityServiceTest, MembersOfAConsumerGroupShareTheStreamEachEventToOne) {
  EventReader a(*event_stub_, "shop", "order", "billing");
  EventReader b(*event_stub_, "shop", "order", "billing");
  EventReader solo(*event_stub_, "shop", "order");
  constexpr int kEvents = 10;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(set(entity("o-" + std::to_string(i), "{}")).ok());
  }
  std::set<std::string> ids;
  for (int i = 0; i < kEvents; ++i) {
    auto e = solo.next();
    ASSERT_TRUE(e);
    ids.insert(e->id());
  }
  std::multiset<std::string> shared;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (shared.size() < kEvents && std::chrono::steady_clock::now() < deadline) {
    for (auto* member : {&a, &b}) {
      if (auto e = member->next(20ms)) shared.insert(e->id());
    }
  }
  EXPECT_EQ(shared.size(), static_cast<std::size_t>(kEvents));
  EXPECT_EQ(std::set<std::string>(shared.begin(), shared.end()), ids)
      << "each event once to the group";
  EXPECT_FALSE(a.next(100ms));
  EXPECT_FALSE(b.next(10ms));
}

TEST_P(EntityServiceTest, ShutdownEndsAnOpenStreamWithUnavailable) {
  EventReader reader(*event_stub_, "*", "*");
  entity_service_->shutdown();
  event_service_->shutdown();
  EXPECT_EQ(reader.finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(set(entity("o-1", "{}")).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_P(EntityServiceTest, AMissingTableIsAFailedPreconditionNamingTheDdlHelper) {
  database_->execute("DROP TABLE " +
                     std::string(database_->dialect() == reflex::rsql::Dialect::postgres
                                     ? "\"" + schema_.entities_table + "\""
                                     : "`" + schema_.entities_table + "`"));
  const auto status = set(entity("o-1", "{}"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("entities_ddl"), std::string::npos)
      << status.error_message();
}

INSTANTIATE_TEST_SUITE_P(Dialects, EntityServiceTest, ::testing::ValuesIn(reflex_test::kDialects),
                         dialect_name);

TEST(GlobMatch, StarMatchesAnyRunAndQuestionMarkOneCharacter) {
  EXPECT_TRUE(rs::glob_match("*", "anything"));
  EXPECT_TRUE(rs::glob_match("acc*", "accounting"));
  EXPECT_TRUE(rs::glob_match("*ing", "accounting"));
  EXPECT_TRUE(rs::glob_match("a*c*g", "accounting"));
  EXPECT_TRUE(rs::glob_match("us?r", "user"));
  EXPECT_FALSE(rs::glob_match("us?r", "usr"));
  EXPECT_FALSE(rs::glob_match("acc*", "billing"));
  EXPECT_FALSE(rs::glob_match("order", "orders"));
  EXPECT_TRUE(rs::glob_match("order", "order"));
}

}  // namespace
