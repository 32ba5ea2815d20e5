// Bearer tokens, TLS and mutual TLS (certificates made with openssl at test time), health and
// reflection of the ready-made server.
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <reflex/reflex.hpp>
#include <reflex/rgrpc/client.hpp>
#include <reflex/rgrpc/errors.hpp>
#include <reflex/rgrpc/generic.hpp>
#include <reflex/rgrpc/server.hpp>
#include <reflex_test/env.hpp>

#include "health.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using rgrpc_test::health_check;
using rgrpc_test::reflection_list;

reflex::MemLog log_of(int n) {
  reflex::MemLog log;
  for (int i = 0; i < n; ++i) log.append(1, std::to_string(i));
  return log;
}

// Receives one event, or the exception the stream ends with.
std::exception_ptr first_error(const reflex::StreamFunc& remote) {
  try {
    auto client = remote({}, "", {});
    (void)client->recv();
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

TEST(GrpcAuth, StreamsRequireTheServersBearerToken) {
  auto log = log_of(2);
  // [snippet:token]
  reflex::rgrpc::Server server(log.stream_func(), {.token = "s3cret-token"});
  const auto with = [&](std::string token) {
    return reflex::rgrpc::stream_func({.target = server.address(), .token = std::move(token)});
  };
  // [end snippet]
  for (const char* wrong : {"", "s3cret-tokeN", "s3cret-toke", "s3cret-token-and-more"}) {
    const auto error = first_error(with(wrong));
    const auto* auth = reflex::find_error<reflex::rgrpc::AuthError>(error);
    ASSERT_NE(auth, nullptr) << "token \"" << wrong << "\" was accepted";
    EXPECT_EQ(auth->code(), 16);  // UNAUTHENTICATED
    EXPECT_FALSE(auth->retryable());
    EXPECT_NE(std::string(auth->what()).find("token"), std::string::npos) << auth->what();
  }
  EXPECT_EQ(server.stats().streams_refused, 4u);
  auto client = with("s3cret-token")({}, "", {});
  EXPECT_EQ(rgrpc_test::recv_n(*client, 2), log.events());
}

/// A CA, a server certificate for localhost/127.0.0.1 and a client certificate, made by openssl.
class Certificates {
 public:
  Certificates() {
    const auto dir = dir_.path().string();
    const std::string script = "set -e; cd '" + dir + R"(';
      ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
      openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj '/CN=reflex test CA'
      openssl req $ec -keyout server.key -out server.csr -subj '/CN=localhost'
      printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile server.ext -out server.pem
      openssl req $ec -keyout client.key -out client.csr -subj '/CN=reflex test client'
      printf 'extendedKeyUsage=clientAuth\n' > client.ext
      openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile client.ext -out client.pem
    )";
    std::ofstream(dir_.path() / "make.sh") << script;
    if (std::system(("sh '" + dir + "/make.sh' >'" + dir + "/openssl.log' 2>&1").c_str()) != 0) {
      throw std::runtime_error("openssl failed; see " + dir + "/openssl.log");
    }
  }
  [[nodiscard]] std::string path(const char* name) const { return (dir_.path() / name).string(); }

 private:
  reflex_test::TempDir dir_;
};

TEST(GrpcTls, StreamsOverTlsWithATestCertificate) {
  Certificates certs;
  auto log = log_of(3);
  reflex::rgrpc::Server server(
      log.stream_func(), {.tls = reflex::rgrpc::ServerTls::from_files(certs.path("server.pem"),
                                                                      certs.path("server.key"))});
  auto tls = reflex::rgrpc::stream_func(
      {.target = server.address(),
       .tls = reflex::rgrpc::ClientTls::from_files(certs.path("ca.pem"))});
  auto client = tls({}, "", {});
  EXPECT_EQ(rgrpc_test::recv_n(*client, 3), log.events());

  // The same through a grpcs:// URI, checking the certificate against its DNS name.
  auto by_uri = reflex::rgrpc::stream_func(reflex::rgrpc::client_options_from_uri(
      "grpcs://127.0.0.1:" + std::to_string(server.port()) + "?ca=" + certs.path("ca.pem") +
      "&server_name=localhost"));
  EXPECT_EQ(by_uri({}, "", {})->recv(), log.events()[0]);

  // A plaintext client, and a client that does not trust the test CA, get nowhere.
  EXPECT_NE(reflex::find_error<reflex::Unavailable>(
                first_error(reflex::rgrpc::stream_func({.target = server.address()}))),
            nullptr);
  EXPECT_NE(reflex::find_error<reflex::Unavailable>(first_error(reflex::rgrpc::stream_func(
                {.target = server.address(), .tls = reflex::rgrpc::ClientTls{}}))),
            nullptr);
}

TEST(GrpcTls, MutualTlsRequiresAClientCertificateSignedByTheClientCa) {
  Certificates certs;
  auto log = log_of(1);
  // [snippet:mutual-tls-server]
  reflex::rgrpc::Server server(
      log.stream_func(),
      {.tls = reflex::rgrpc::ServerTls::from_files(certs.path("server.pem"),
                                                   certs.path("server.key"), certs.path("ca.pem")),
       .token = "t"});
  // [end snippet]
  auto without_cert = reflex::rgrpc::stream_func(
      {.target = server.address(),
       .token = "t",
       .tls = reflex::rgrpc::ClientTls::from_files(certs.path("ca.pem"))});
  EXPECT_NE(reflex::find_error<reflex::Unavailable>(first_error(without_cert)), nullptr);
  // [snippet:mutual-tls-client]
  auto with_cert = reflex::rgrpc::stream_func(
      {.target = server.address(),
       .token = "t",
       .tls = reflex::rgrpc::ClientTls::from_files(certs.path("ca.pem"), certs.path("client.pem"),
                                                   certs.path("client.key"))});
  // [end snippet]
  EXPECT_EQ(with_cert({}, "", {})->recv(), log.events()[0]);
}

TEST(GrpcTls, UnreadableCertificateFilesAreConfigErrorsNamingTheFile) {
  try {
    (void)reflex::rgrpc::ServerTls::from_files("/no/such/cert.pem", "/no/such/key.pem");
    FAIL() << "expected ConfigError";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such/cert.pem"), std::string::npos) << e.what();
  }
  EXPECT_THROW(reflex::rgrpc::Server(reflex::MemLog().stream_func(),
                                     {.tls = reflex::rgrpc::ServerTls{.cert_chain_pem = "x"}}),
               reflex::ConfigError);
}

TEST(GrpcServer, ServesHealthUntilStopped) {
  reflex::MemLog log;
  reflex::rgrpc::Server server(log.stream_func(), {.token = "health-needs-no-token"});
  auto channel = reflex::rgrpc::make_channel({.target = server.address()});
  EXPECT_EQ(health_check(channel, ""), 1);
  EXPECT_EQ(health_check(channel, "reflexpb.Reflex"), 1);
  EXPECT_EQ(health_check(channel, "no.Such"), -static_cast<int>(grpc::StatusCode::NOT_FOUND));
  server.stop();
  EXPECT_LT(health_check(channel, ""), 0);
}

TEST(GrpcServer, ServesReflectionListingItsServices) {
  reflex::MemLog log;
  reflex::rgrpc::Server server(log.stream_func());
  const auto listing = reflection_list(reflex::rgrpc::make_channel({.target = server.address()}));
  EXPECT_NE(listing.find("reflexpb.Reflex"), std::string::npos);
  EXPECT_NE(listing.find("grpc.health.v1.Health"), std::string::npos);

  reflex::rgrpc::Server plain(log.stream_func(), {.health = false, .reflection = false});
  auto channel = reflex::rgrpc::make_channel({.target = plain.address()});
  EXPECT_EQ(reflection_list(channel), "");
  EXPECT_EQ(health_check(channel, ""), -static_cast<int>(grpc::StatusCode::UNIMPLEMENTED));
}

}  // namespace
