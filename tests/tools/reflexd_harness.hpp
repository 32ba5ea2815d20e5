#pragma once
// The harness of the reflexd tests: reflexd run as a process, its start-up line read for the
// addresses it took, gRPC health and reflection seen as a client sees them, a SQLite outbox.

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/support/sync_stream.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "../rgrpc/health.hpp"
#include "reflex/rsql/rsql.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/process.hpp"
#include "reflexctl_harness.hpp"

namespace reflexd_test {

using namespace std::chrono_literals;
using reflexctl_test::http_get;
using reflexctl_test::LoopbackPort;
using rgrpc_test::reflection_list;

/// `more`, and an empty value for every other setting of reflexd, so that none comes from the
/// test's own environment.
inline std::vector<std::string> clean_env(std::vector<std::string> more = {}) {
  std::vector<std::string> env = std::move(more);
  for (const char* name : {"NATS_URL",
                           "GRPC_PORT",
                           "HEALTH_PORT",
                           "DEVELOPMENT",
                           "REFLEX_LISTEN",
                           "REFLEX_HTTP",
                           "REFLEX_STREAMS",
                           "REFLEX_TLS_CERT",
                           "REFLEX_TLS_KEY",
                           "REFLEX_TOKEN_FILE",
                           "REFLEX_DRAIN_TIMEOUT",
                           "NATS_PUBLISH_ASYNC_MAX_PENDING",
                           "REFLEX_LOG_LEVEL",
                           "REFLEX_DATABASE",
                           "STATEGATE_PORT",
                           "STATEGATE_TLS_CERT_FILE",
                           "STATEGATE_TLS_KEY_FILE",
                           "STATEGATE_AUTH_DISABLED",
                           "STATEGATE_CORS_ALLOW_ORIGINS",
                           "STATEGATE_CORS_ALLOW_METHODS",
                           "STATEGATE_CORS_ALLOW_HEADERS",
                           "REFLEX_JWT_HS256_SECRET_FILE",
                           "REFLEX_JWT_RS256_PUBLIC_KEY_FILE",
                           "REFLEX_JWT_ISSUER",
                           "REFLEX_JWT_AUDIENCE"}) {
    const std::string prefix = std::string(name) + "=";
    if (std::none_of(env.begin(), env.end(),
                     [&](const std::string& entry) { return entry.starts_with(prefix); })) {
      env.push_back(prefix);
    }
  }
  return env;
}

/// reflexd as a child process with `args` and `env` (after clean_env()).
class Reflexd : public reflex_test::Process {
 public:
  explicit Reflexd(std::vector<std::string> args, std::vector<std::string> env = {})
      : Process(with_program(std::move(args)), {.env = clean_env(std::move(env))}) {}

  /// Waits for the start-up line and reads the gRPC address and HTTP port from it; false when
  /// it did not come within 10 s.
  bool started() {
    const std::string line = wait_for_err(R"(\{[^\n]*"msg":"reflexd serving"[^\n]*\})");
    if (line.empty()) return false;
    const auto json = nlohmann::json::parse(line);
    grpc_ = json.at("grpc").get<std::string>();
    http_port_ = json.at("http_port").get<int>();
    return true;
  }
  [[nodiscard]] const std::string& grpc() const { return grpc_; }
  [[nodiscard]] int http_port() const { return http_port_; }

 private:
  static std::vector<std::string> with_program(std::vector<std::string> args) {
    args.insert(args.begin(), REFLEXD);
    return args;
  }
  std::string grpc_;
  int http_port_ = 0;
};

/// Runs reflexd to its end (killed after 20 s).
inline reflex_test::ProcessResult run_reflexd(std::vector<std::string> args,
                                              std::vector<std::string> env = {}) {
  args.insert(args.begin(), REFLEXD);
  return reflex_test::run_process(std::move(args), {.env = clean_env(std::move(env))}, 20s);
}

/// A SQLite outbox in a temp dir, served as stream "orders".
class ReflexdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db = reflex::rsql::Database::open("sqlite://" + path);
    db->create_events_table({.table = "events"});
  }
  /// Publishes `n` events of type 1 with foreign ids "f1", "f2", ... (reflexctl publish).
  void publish(int n) {
    std::string lines;
    for (int i = 1; i <= n; ++i)
      lines += R"({"foreign_id":"f)" + std::to_string(i) +
               R"(","type":1})"
               "\n";
    ASSERT_EQ(reflexctl_test::run({"publish", "sqlite://" + path + "?table=events"}, lines).status,
              0);
  }
  reflex_test::TempDir dir;
  std::string path = (dir.path() / "app.db").string();
  std::string stream = "orders=sqlite://" + path + "?table=events";
  std::shared_ptr<reflex::rsql::Database> db;
};

}  // namespace reflexd_test
