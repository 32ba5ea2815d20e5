// StateService: stores, missing keys, revisions, create-only, compare-and-set, deletes, names.
#include <gtest/gtest.h>

#include "windshift_test.hpp"

namespace rwindshift_test {
namespace {

namespace rnats = reflex::rnats;

class StateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    st::EnsureStoreRequest req;
    req.set_store(store_);
    st::EnsureStoreResponse res;
    ASSERT_TRUE(stub_->EnsureStore(context().get(), req, &res).ok());
  }
  void TearDown() override { rnats::StateStore::remove(nats_, store_); }

  grpc::Status set(const std::string& key, const std::string& value, std::uint64_t* revision,
                   std::optional<std::uint64_t> last = {}, bool create_only = false) {
    st::SetRequest req;
    req.set_store(store_);
    req.set_key(key);
    *req.mutable_value() = any_string(value);
    if (last) req.set_last_revision(*last);
    if (create_only) req.set_create_only(true);
    st::SetResponse res;
    auto s = stub_->Set(context().get(), req, &res);
    if (revision) *revision = res.revision();
    return s;
  }
  st::GetResponse get(const std::string& key, grpc::Status* status = nullptr) {
    st::GetRequest req;
    req.set_store(store_);
    req.set_key(key);
    st::GetResponse res;
    const auto s = stub_->Get(context().get(), req, &res);
    if (status) *status = s;
    return res;
  }
  grpc::Status erase(const std::string& key, std::optional<std::uint64_t> last = {}) {
    st::DeleteRequest req;
    req.set_store(store_);
    req.set_key(key);
    if (last) req.set_last_revision(*last);
    st::DeleteResponse res;
    return stub_->Delete(context().get(), req, &res);
  }

  rnats::Connection nats_ = reflex_test::connect("rwindshift-state");
  Server server_{nats_};
  std::unique_ptr<st::StateService::Stub> stub_ = server_.state();
  std::string store_ = reflex_test::unique_name("store");
};

TEST_F(StateTest, EnsureStoreIsIdempotent) {
  st::EnsureStoreRequest req;
  req.set_store(store_);
  st::EnsureStoreResponse res;
  EXPECT_TRUE(stub_->EnsureStore(context().get(), req, &res).ok());
  EXPECT_NO_THROW((void)rnats::StateStore::open(nats_, store_));
}

TEST_F(StateTest, AMissingKeyIsNotAnEmptyValue) {
  auto missing = get("order.1");
  EXPECT_EQ(missing.revision(), 0u);
  EXPECT_FALSE(missing.has_value());
  EXPECT_FALSE(missing.has_last_updated());

  std::uint64_t rev = 0;
  st::SetRequest req;
  req.set_store(store_);
  req.set_key("order.1");
  req.mutable_value();  // an empty Any
  st::SetResponse res;
  ASSERT_TRUE(stub_->Set(context().get(), req, &res).ok());
  rev = res.revision();
  const auto empty = get("order.1");
  EXPECT_EQ(empty.revision(), rev);
  EXPECT_TRUE(empty.has_value());
  EXPECT_TRUE(empty.has_last_updated());
}

TEST_F(StateTest, SetAndGetCarryRevisionsAndTimes) {
  std::uint64_t r1 = 0, r2 = 0;
  ASSERT_TRUE(set("k", "one", &r1).ok());
  ASSERT_TRUE(set("k", "two", &r2).ok());
  EXPECT_GT(r2, r1);
  const auto got = get("k");
  EXPECT_EQ(string_of(got.value()), "two");
  EXPECT_EQ(got.revision(), r2);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  EXPECT_NEAR(static_cast<double>(got.last_updated().seconds()), static_cast<double>(now), 10.0);
}

TEST_F(StateTest, CreateOnlyRefusesAnExistingKeyAsAlreadyExists) {
  std::uint64_t rev = 0;
  ASSERT_TRUE(set("k", "first", &rev, {}, true).ok());
  const auto s = set("k", "second", nullptr, {}, true);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_EQ(string_of(get("k").value()), "first");
}

TEST_F(StateTest, LastRevisionIsCompareAndSet) {
  std::uint64_t r1 = 0, r2 = 0;
  ASSERT_TRUE(set("k", "one", &r1).ok());
  ASSERT_TRUE(set("k", "two", &r2, r1).ok());
  const auto s = set("k", "three", nullptr, r1);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_EQ(string_of(get("k").value()), "two");
}

TEST_F(StateTest, DeleteOptionallyOnARevision) {
  std::uint64_t r1 = 0, r2 = 0;
  ASSERT_TRUE(set("a", "x", &r1).ok());
  ASSERT_TRUE(set("a", "y", &r2).ok());
  const auto s = erase("a", r1);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_TRUE(get("a").has_value());
  ASSERT_TRUE(erase("a", r2).ok());
  EXPECT_FALSE(get("a").has_value());
  ASSERT_TRUE(set("b", "x", &r1).ok());
  ASSERT_TRUE(erase("b").ok());
  EXPECT_FALSE(get("b").has_value());
  EXPECT_EQ(get("b").revision(), 0u);
}

TEST_F(StateTest, BadNamesAndMissingStoresAreInvalidArguments) {
  grpc::Status s;
  (void)get("bad..key", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "invalid key: bad..key");
  (void)get("a.*", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  st::GetRequest req;
  req.set_store("bad.store");
  req.set_key("k");
  st::GetResponse res;
  s = stub_->Get(context().get(), req, &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "invalid store name: bad.store");

  req.set_store(reflex_test::unique_name("nostore"));
  s = stub_->Get(context().get(), req, &res);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "store not found");

  st::EnsureStoreRequest ensure;
  ensure.set_store("bad store");
  st::EnsureStoreResponse done;
  s = stub_->EnsureStore(context().get(), ensure, &done);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "invalid store name: bad store");
}

}  // namespace
}  // namespace rwindshift_test
