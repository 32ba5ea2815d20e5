// Identity: every RPC of the three services refuses a call without acceptable credentials
// (UNAUTHENTICATED) before it looks at the request, accepts the static token, records the claims
// of a verified token in the messages it broadcasts, and accepts anything when disabled.

#include <nlohmann/json.hpp>

#include "stategate_test.hpp"

namespace {

using namespace rstategate_test;

/// Calls every RPC of the three services with `authorization`; their status codes, in order.
std::vector<grpc::StatusCode> every_rpc(const Server& server, const std::string& authorization) {
  std::vector<grpc::StatusCode> codes;
  google::protobuf::Empty empty;
  const auto peer = server.peer();
  codes.push_back(peer->Broadcast(context(authorization).get(), message("acme", "c", "t"), &empty)
                      .error_code());
  {
    Subscriber stream(*peer, "acme", "c", "t", "", authorization);
    // The constructor returned once the server answered: a refused call has ended by then, an
    // accepted one is cancelled by the client after a moment.
    codes.push_back(stream.finish(300ms).error_code());
  }
  const auto cache = server.cache();
  sg::Cache value;
  value.set_domain("acme");
  value.set_key("k");
  value.mutable_value()->set_string_value("v");
  codes.push_back(cache->Set(context(authorization).get(), value, &empty).error_code());
  sg::CacheRef ref;
  ref.set_domain("acme");
  ref.set_key("k");
  sg::Cache got;
  codes.push_back(cache->Get(context(authorization).get(), ref, &got).error_code());
  codes.push_back(cache->Del(context(authorization).get(), ref, &empty).error_code());
  const auto mutex = server.mutex();
  sg::Mutex lock;
  lock.set_domain("acme");
  lock.set_key("k");
  codes.push_back(mutex->Lock(context(authorization).get(), lock, &empty).error_code());
  sg::MutexRef unlock;
  unlock.set_domain("acme");
  unlock.set_key("k");
  codes.push_back(mutex->Unlock(context(authorization).get(), unlock, &empty).error_code());
  return codes;
}

using Codes = std::vector<grpc::StatusCode>;
constexpr auto kUnauth = grpc::StatusCode::UNAUTHENTICATED;

TEST(Identity, EveryRpcRefusesMissingMalformedAndWrongTokens) {
  Backends backends(Backend::memory);
  Server server(backends, rs::Identity({.token = kToken}));
  const Codes refused(7, kUnauth);
  for (const std::string& authorization :
       {std::string(), std::string("Bearer"), std::string("Basic ") + kToken,
        std::string("Bearer wrong-token"), std::string("Bearer ") + kToken + "x",
        std::string(kToken)}) {
    EXPECT_EQ(every_rpc(server, authorization), refused) << "'" << authorization << "'";
  }
}

TEST(Identity, TheStaticTokenIsAcceptedByEveryRpc) {
  Backends backends(Backend::memory);
  Server server(backends, rs::Identity({.token = kToken}));
  // Stream ends by the client's cancel; the rest succeed.
  const Codes accepted = {grpc::StatusCode::OK, grpc::StatusCode::CANCELLED, grpc::StatusCode::OK,
                          grpc::StatusCode::OK, grpc::StatusCode::OK,        grpc::StatusCode::OK,
                          grpc::StatusCode::OK};
  EXPECT_EQ(every_rpc(server, std::string("Bearer ") + kToken), accepted);
  // The scheme in any case (RFC 7235).
  EXPECT_EQ(every_rpc(server, std::string("bearer ") + kToken), accepted);
}

TEST(Identity, UnauthenticatedComesBeforeValidation) {
  Backends backends(Backend::memory);
  Server server(backends, rs::Identity({.token = kToken}));
  const auto peer = server.peer();
  const auto status = broadcast(*peer, message("", "has space", ""), "Bearer wrong");
  EXPECT_EQ(status.error_code(), kUnauth) << status.error_message();
}

/// Verifies "alice" and "bob" tokens; refuses the rest (the JWT verifier's place).
class Verifier final : public rs::TokenVerifier {
 public:
  std::string claims_of(std::string_view token) const override {
    if (token == "alice") return R"({"sub":"alice","roles":["admin"]})";
    if (token == "bob") return R"({"sub":"bob"})";
    if (token == "not-an-object") return R"(["sub"])";
    throw rs::Unauthenticated("token expired");
  }
};

TEST(Identity, AVerifiedTokensClaimsAreRecordedInEachPeerMessage) {
  Backends backends(Backend::memory);
  Server server(backends,
                rs::Identity({.token = kToken, .verifier = std::make_shared<Verifier>()}));
  const auto peer = server.peer();
  Subscriber sub(*peer, "acme", "chat", "*", "", "Bearer bob");
  ASSERT_TRUE(broadcast(*peer, message("acme", "chat", "said"), "Bearer alice").ok());
  ASSERT_TRUE(broadcast(*peer, message("acme", "chat", "said"), "Bearer bob").ok());
  ASSERT_TRUE(
      broadcast(*peer, message("acme", "chat", "said"), std::string("Bearer ") + kToken).ok());
  const std::vector<nlohmann::json> expected = {
      nlohmann::json::parse(R"({"sub":"alice","roles":["admin"]})"),
      nlohmann::json::parse(R"({"sub":"bob"})"), nlohmann::json::object()};
  for (const auto& claims : expected) {
    const auto m = sub.next();
    ASSERT_TRUE(m);
    EXPECT_EQ(nlohmann::json::parse(json_of(m->claims())), claims);
  }
  // The verifier's refusal is the caller's UNAUTHENTICATED, with its reason.
  const auto expired = broadcast(*peer, message("acme", "chat", "said"), "Bearer mallory");
  EXPECT_EQ(expired.error_code(), kUnauth);
  EXPECT_NE(expired.error_message().find("token expired"), std::string::npos);
  EXPECT_EQ(broadcast(*peer, message("acme", "chat", "said"), "Bearer not-an-object").error_code(),
            kUnauth);
}

TEST(Identity, DisabledAcceptsEveryCallWithEmptyClaims) {
  Backends backends(Backend::memory);
  Server server(backends, rs::Identity({.disabled = true}));
  const Codes accepted = {grpc::StatusCode::OK, grpc::StatusCode::CANCELLED, grpc::StatusCode::OK,
                          grpc::StatusCode::OK, grpc::StatusCode::OK,        grpc::StatusCode::OK,
                          grpc::StatusCode::OK};
  EXPECT_EQ(every_rpc(server, ""), accepted);
  EXPECT_EQ(every_rpc(server, "Bearer anything"), accepted);
  EXPECT_EQ(rs::Identity({.disabled = true}).verify(""), "{}");
}

TEST(Identity, NothingConfiguredAcceptsNobody) {
  const rs::Identity nobody;
  EXPECT_THROW((void)nobody.verify("Bearer x"), rs::Unauthenticated);
  EXPECT_THROW((void)nobody.verify(""), rs::Unauthenticated);
}

}  // namespace
