// Bad input is refused with INVALID_ARGUMENT and a one-line message naming the field, before
// anything is done (stategate's validator options: names `^\S+$`, body and value present), on
// every RPC.

#include "stategate_test.hpp"

namespace {

using namespace rstategate_test;

class ValidationTest : public StategateTest {};

void expect_invalid(const grpc::Status& status, const std::string& field) {
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_TRUE(status.error_message().starts_with(field + ":")) << status.error_message();
  EXPECT_EQ(status.error_message().find('\n'), std::string::npos) << status.error_message();
}

TEST_P(ValidationTest, PeerFieldsAreNamesAndBodyIsRequired) {
  auto stub = server.peer();
  Subscriber everything(*stub, "*", "*", "*");
  expect_invalid(broadcast(*stub, message("", "c", "t")), "domain");
  expect_invalid(broadcast(*stub, message("a b", "c", "t")), "domain");
  expect_invalid(broadcast(*stub, message("a", "c\n", "t")), "channel");
  expect_invalid(broadcast(*stub, message("a", "c", "\t")), "type");
  auto no_body = message("a", "c", "t");
  no_body.clear_body();
  expect_invalid(broadcast(*stub, no_body), "body");

  for (const auto& [domain, channel, type, field] :
       std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
           {"", "*", "*", "domain"},
           {"*", "a b", "*", "channel"},
           {"*", "*", "", "type"},
           {"acme*", "*", "*", "domain"}}) {
    Subscriber bad(*stub, domain, channel, type);
    expect_invalid(bad.finish(), field);
  }
  // Nothing reached the hub: the next message anyone gets is the good one.
  ASSERT_TRUE(broadcast(*stub, message("a", "c", "t", R"({"good":1})")).ok());
  const auto m = everything.next();
  ASSERT_TRUE(m);
  EXPECT_EQ(json_of(m->body()), R"({"good":1})");
}

TEST_P(ValidationTest, CacheNamesAndValueAreRequired) {
  auto stub = server.cache();
  google::protobuf::Empty empty;
  const auto cache = [](const std::string& domain, const std::string& key, bool with_value) {
    sg::Cache c;
    c.set_domain(domain);
    c.set_key(key);
    if (with_value) c.mutable_value()->set_number_value(1);
    return c;
  };
  expect_invalid(stub->Set(context().get(), cache("", "k", true), &empty), "domain");
  expect_invalid(stub->Set(context().get(), cache("d", "k k", true), &empty), "key");
  expect_invalid(stub->Set(context().get(), cache("d", "k", false), &empty), "value");
  auto bad_exp = cache("d", "k", true);
  bad_exp.mutable_exp()->set_seconds(4102444800);  // 2100
  bad_exp.mutable_exp()->set_nanos(-1);
  expect_invalid(stub->Set(context().get(), bad_exp, &empty), "exp");
  sg::CacheRef ref;
  ref.set_domain("d");
  sg::Cache got;
  expect_invalid(stub->Get(context().get(), ref, &got), "key");
  expect_invalid(stub->Del(context().get(), ref, &empty), "key");
  ref.set_domain(" ");
  ref.set_key("k");
  expect_invalid(stub->Get(context().get(), ref, &got), "domain");
  // Nothing was stored by the refused Set calls.
  ref.set_domain("d");
  EXPECT_EQ(stub->Get(context().get(), ref, &got).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_P(ValidationTest, MutexNamesAreRequiredAndExpMustBeAhead) {
  auto stub = server.mutex();
  google::protobuf::Empty empty;
  sg::Mutex lock;
  lock.set_key("k");
  expect_invalid(stub->Lock(context().get(), lock, &empty), "domain");
  lock.set_domain("d");
  lock.set_key("");
  expect_invalid(stub->Lock(context().get(), lock, &empty), "key");
  lock.set_key("k");
  set_time(lock.mutable_exp(), std::chrono::system_clock::now() - 1s);
  expect_invalid(stub->Lock(context().get(), lock, &empty), "exp");
  sg::MutexRef ref;
  ref.set_domain("d");
  ref.set_key("k v");
  expect_invalid(stub->Unlock(context().get(), ref, &empty), "key");
  // The refused Lock took nothing.
  lock.clear_exp();
  EXPECT_TRUE(stub->Lock(context().get(), lock, &empty).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, ValidationTest,
                         ::testing::Values(Backend::memory, Backend::nats), backend_name);

}  // namespace
