// reflexd as a process serving stategate's REST routes beside the operator endpoints on its
// one HTTP port: a route answers in proto3 JSON what the gRPC server answers (here, without the
// stategate services in this reflexd, UNIMPLEMENTED as 501), and CORS follows
// STATEGATE_CORS_ALLOW_*. The routes' transcoding itself: reflexd_gateway_test.cpp.

#include <httplib.h>

#include "reflexd_harness.hpp"

namespace reflexd_test {
namespace {

std::vector<std::string> local_ports(std::vector<std::string> env) {
  env.push_back("REFLEX_LISTEN=127.0.0.1:0");
  env.push_back("REFLEX_HTTP=127.0.0.1:0");
  return env;
}

TEST_F(ReflexdTest, RestRoutesShareTheHttpPortWithTheOperatorEndpoints) {
  Reflexd daemon({}, local_ports({"REFLEX_STREAMS=" + stream}));
  ASSERT_TRUE(daemon.started()) << daemon.err();
  EXPECT_EQ(http_get(daemon.http_port(), "/healthz").status, 200);
  const auto entity = http_get(daemon.http_port(), "/api/entity/ref/acct/user/u1");
  EXPECT_EQ(entity.status, 501) << entity.body;
  const auto status = nlohmann::json::parse(entity.body, nullptr, false);
  ASSERT_TRUE(status.is_object()) << entity.body;
  EXPECT_EQ(status.value("code", 0), 12);  // UNIMPLEMENTED, from the gRPC server
  EXPECT_NE(status.value("message", "").find("stategate.EntityService"), std::string::npos);
  EXPECT_EQ(http_get(daemon.http_port(), "/api/peers/stream?bogus=1").status, 400);
  EXPECT_EQ(http_get(daemon.http_port(), "/api/nothing").status, 404);
}

TEST_F(ReflexdTest, CorsFollowsTheStategateVariables) {
  Reflexd daemon({}, local_ports({"REFLEX_STREAMS=" + stream,
                                  "STATEGATE_CORS_ALLOW_ORIGINS=http://a.example, http://b.example",
                                  "STATEGATE_CORS_ALLOW_METHODS=GET,POST"}));
  ASSERT_TRUE(daemon.started()) << daemon.err();
  httplib::Client client("127.0.0.1", daemon.http_port());
  const auto allowed = client.Options("/api/peers/broadcast", {{"Origin", "http://b.example"}});
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->status, 204);
  EXPECT_EQ(allowed->get_header_value("Access-Control-Allow-Origin"), "http://b.example");
  EXPECT_EQ(allowed->get_header_value("Access-Control-Allow-Methods"), "GET,POST");
  const auto other = client.Get("/healthz", {{"Origin", "http://evil.example"}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);
  EXPECT_FALSE(other->has_header("Access-Control-Allow-Origin"));
}

}  // namespace
}  // namespace reflexd_test
