// CacheService on both backends: Set / Get / Del of any google.protobuf.Value, a value replaced,
// a missing value NOT_FOUND, an expired value gone (and, on NATS, deleted from its bucket).

#include "stategate_test.hpp"

namespace {

using namespace rstategate_test;

class CacheTest : public StategateTest {
 protected:
  grpc::Status set(const std::string& domain, const std::string& key,
                   const google::protobuf::Value& value,
                   std::optional<std::chrono::system_clock::time_point> exp = {}) {
    sg::Cache req;
    req.set_domain(domain);
    req.set_key(key);
    *req.mutable_value() = value;
    if (exp) set_time(req.mutable_exp(), *exp);
    google::protobuf::Empty empty;
    return stub->Set(context().get(), req, &empty);
  }
  grpc::Status get(const std::string& domain, const std::string& key, sg::Cache& out) {
    sg::CacheRef ref;
    ref.set_domain(domain);
    ref.set_key(key);
    return stub->Get(context().get(), ref, &out);
  }
  grpc::Status del(const std::string& domain, const std::string& key) {
    sg::CacheRef ref;
    ref.set_domain(domain);
    ref.set_key(key);
    google::protobuf::Empty empty;
    return stub->Del(context().get(), ref, &empty);
  }
  static google::protobuf::Value value_of(const std::string& json) {
    google::protobuf::Value v;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &v).ok()) << json;
    return v;
  }

  std::unique_ptr<sg::CacheService::Stub> stub = server.cache();
};

TEST_P(CacheTest, SetGetReplaceAndDelEveryKindOfValue) {
  for (const char* json :
       {R"("text")", "42.5", "true", "null", R"([1,"two",{"three":3}])", R"({"a":{"b":[1,2]}})"}) {
    ASSERT_TRUE(set("acme", "value", value_of(json)).ok()) << json;
    sg::Cache got;
    ASSERT_TRUE(get("acme", "value", got).ok()) << json;
    EXPECT_EQ(json_of(got.value()), json_of(value_of(json)));
    EXPECT_EQ(got.domain(), "acme");
    EXPECT_EQ(got.key(), "value");
    EXPECT_FALSE(got.has_exp());  // never expires
  }
  // Keys are per domain; names with dots and stars are names.
  ASSERT_TRUE(set("other.co", "value*", value_of(R"("theirs")")).ok());
  sg::Cache mine, theirs;
  ASSERT_TRUE(get("acme", "value", mine).ok());
  ASSERT_TRUE(get("other.co", "value*", theirs).ok());
  EXPECT_EQ(json_of(theirs.value()), R"("theirs")");
  EXPECT_NE(json_of(mine.value()), R"("theirs")");

  ASSERT_TRUE(del("acme", "value").ok());
  sg::Cache gone;
  EXPECT_EQ(get("acme", "value", gone).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(get("other.co", "value*", theirs).ok());
  // Deleting what is not there is no error.
  EXPECT_TRUE(del("acme", "never-set").ok());
  EXPECT_EQ(get("acme", "never-set", gone).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_P(CacheTest, AnExpiredValueIsNotFoundAndAValueSetAgainLives) {
  const auto exp = std::chrono::system_clock::now() + 400ms;
  ASSERT_TRUE(set("acme", "session", value_of(R"("short")"), exp).ok());
  sg::Cache got;
  ASSERT_TRUE(get("acme", "session", got).ok());
  ASSERT_TRUE(got.has_exp());
  EXPECT_EQ(got.exp().seconds(),
            std::chrono::duration_cast<std::chrono::seconds>(exp.time_since_epoch()).count());
  // Gone once its time has come (polled: no sleep for luck), and never before it.
  ASSERT_TRUE(reflex_test::eventually(
      [&] {
        sg::Cache out;
        const auto asked = std::chrono::system_clock::now();
        const auto status = get("acme", "session", out);
        if (status.ok()) {
          EXPECT_LT(asked, exp);  // the server's check came after `asked`
        }
        return status.error_code() == grpc::StatusCode::NOT_FOUND;
      },
      5s));
  EXPECT_GE(std::chrono::system_clock::now(), exp);
  if (backends.nats) {
    // Deleted from the bucket by the read that found it expired.
    const auto bucket = reflex::rnats::StateStore::open(*backends.nats, backends.cache_bucket);
    EXPECT_FALSE(bucket.get("acme.session").has_value());
  }
  // Set again without expiry: it stays.
  ASSERT_TRUE(set("acme", "session", value_of(R"("long")")).ok());
  ASSERT_TRUE(get("acme", "session", got).ok());
  EXPECT_EQ(json_of(got.value()), R"("long")");
}

TEST_P(CacheTest, AnExpiryInThePastIsInvalid) {
  const auto status = set("acme", "late", value_of("1"), std::chrono::system_clock::now() - 1s);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("exp"), std::string::npos) << status.error_message();
  sg::Cache got;
  EXPECT_EQ(get("acme", "late", got).error_code(), grpc::StatusCode::NOT_FOUND);
}

INSTANTIATE_TEST_SUITE_P(Backends, CacheTest, ::testing::Values(Backend::memory, Backend::nats),
                         backend_name);

}  // namespace
