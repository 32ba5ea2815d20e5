// reflexd as a stategate server of entities, on each dialect (REFLEX_DATABASE: a temp-file
// SQLite, the test PostgreSQL and MariaDB): every entity and event route over REST in both
// spellings, Server-Sent Events to curl within 100 ms and to a page in headless Chromium of a
// change made over gRPC, JWTs accepted or refused with their claims in the history, and
// optimistic versions over REST (412).

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <reflex/proto/stategate/schema.grpc.pb.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "reflex/rgrpc/client.hpp"
#include "reflex_test/dialects.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/process.hpp"
#include "reflex_test/wait.hpp"
#include "reflexd_harness.hpp"

namespace {

using namespace reflexd_test;
using nlohmann::json;
namespace sg = ::stategate;

constexpr const char* kToken = "reflexd-entities-token";

using reflex::rsql::Dialect;
using reflex_test::dialect_name;

struct Reply {
  int status = 0;
  json body;
};

/// `text` with every byte outside [A-Za-z0-9-._~] percent-encoded (a query value).
std::string encoded(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

class ReflexdEntities : public ::testing::Test {
 protected:
  /// Starts reflexd on `dsn` (no NATS) with the token file, plus `env`.
  void start(const std::string& dsn, std::vector<std::string> env = {}) {
    const auto token = dir_.path() / "token";
    std::ofstream(token) << kToken << "\n";
    env.push_back("REFLEX_DATABASE=" + dsn);
    env.push_back("REFLEX_LISTEN=127.0.0.1:0");
    env.push_back("REFLEX_HTTP=127.0.0.1:0");
    if (std::none_of(env.begin(), env.end(),
                     [](const std::string& e) { return e.starts_with("REFLEX_JWT"); })) {
      env.push_back("REFLEX_TOKEN_FILE=" + token.string());
    }
    daemon_.emplace(std::vector<std::string>{}, std::move(env));
    ASSERT_TRUE(daemon_->started()) << daemon_->err();
    channel_ = reflex::rgrpc::make_channel({.target = daemon_->grpc()});
    entities_ = sg::EntityService::NewStub(channel_);
    events_ = sg::EventService::NewStub(channel_);
  }

  Reply call(const std::string& method, const std::string& path, const std::string& body = "",
             httplib::Headers headers = {{"Authorization", std::string("Bearer ") + kToken}}) {
    httplib::Client client("127.0.0.1", daemon_->http_port());
    client.set_read_timeout(10, 0);
    httplib::Result result =
        method == "GET"      ? client.Get(path, headers)
        : method == "DELETE" ? client.Delete(path, headers)
        : method == "POST"   ? client.Post(path, headers, body, "application/json")
        : method == "PUT"    ? client.Put(path, headers, body, "application/json")
                             : client.Patch(path, headers, body, "application/json");
    if (!result) return {};
    Reply reply{.status = result->status, .body = json::parse(result->body, nullptr, false)};
    return reply;
  }

  std::unique_ptr<grpc::ClientContext> context(
      const std::string& authorization = std::string("Bearer ") + kToken) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + 10s);
    if (!authorization.empty()) ctx->AddMetadata("authorization", authorization);
    return ctx;
  }
  grpc::Status set(const std::string& key, const std::string& values_json,
                   const std::string& authorization = std::string("Bearer ") + kToken) {
    sg::Entity entity;
    entity.set_domain(domain_);
    entity.set_type("order");
    entity.set_key(key);
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(values_json, entity.mutable_values()).ok());
    google::protobuf::Empty empty;
    return entities_->Set(context(authorization).get(), entity, &empty);
  }
  [[nodiscard]] std::string base() const {
    return "http://127.0.0.1:" + std::to_string(daemon_->http_port());
  }

  reflex_test::TempDir dir_;
  /// Every test's changes are in a domain of its own: the servers' tables are shared.
  std::string domain_ = reflex_test::unique_name("shop");
  std::optional<Reflexd> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<sg::EntityService::Stub> entities_;
  std::unique_ptr<sg::EventService::Stub> events_;
};

class ReflexdEntitiesOn : public ReflexdEntities, public ::testing::WithParamInterface<Dialect> {
 protected:
  [[nodiscard]] std::string dsn() const {
    return reflex_test::dialect_dsn(GetParam(), dir_.path(), "entities.db");
  }
};

TEST_P(ReflexdEntitiesOn, EveryEntityAndEventRouteAnswersInBothSpellings) {
  ASSERT_NO_FATAL_FAILURE(start(dsn()));
  const std::string ref = "/api/entity/ref/" + domain_ + "/order/";
  ASSERT_EQ(call("POST", ref + "o-1", R"({"values": {"status": "open", "total": 12}})").status,
            200);
  ASSERT_EQ(call("PUT", ref + "o-2", R"({"values": {"status": "paid", "total": 7}})").status, 200);
  auto got = call("GET", ref + "o-1");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body["values"], (json{{"status", "open"}, {"total", 12}}));
  const auto edited = call("PATCH", ref + "o-1", R"({"values": {"status": "paid"}})");
  ASSERT_EQ(edited.status, 200);
  EXPECT_EQ(edited.body["values"], (json{{"status", "paid"}, {"total", 12}}));

  const auto found = call("GET", "/api/entity/search?domain=" + domain_ +
                                     "&type=order&limit=10&sort.field=total&query_string=" +
                                     encoded(R"({"status": "paid"})"));
  ASSERT_EQ(found.status, 200) << found.body.dump();
  ASSERT_EQ(found.body["entities"].size(), 2u) << found.body.dump();
  EXPECT_EQ(found.body["entities"][0]["key"], "o-2");
  EXPECT_EQ(found.body["entities"][1]["key"], "o-1");

  std::string first_id;
  for (const std::string path : {"/api/events/search", "/api/event/search"}) {
    const auto history = call("GET", path + "?domain=" + domain_ + "&type=order&limit=10");
    ASSERT_EQ(history.status, 200) << history.body.dump();
    ASSERT_EQ(history.body["events"].size(), 3u) << history.body.dump();
    EXPECT_EQ(history.body["events"][2]["method"], "/stategate.EntityService/Edit");
    first_id = history.body["events"][0]["id"];
  }
  for (const std::string path : {"/api/events/ref/", "/api/event/ref/"}) {
    const auto one = call("GET", path + domain_ + "/order/o-1/" + first_id);
    ASSERT_EQ(one.status, 200) << one.body.dump();
    EXPECT_EQ(one.body["entity"]["values"]["status"], "open");
  }

  const auto reverted = call("PUT", ref + "o-1/revert", json{{"id", first_id}}.dump());
  ASSERT_EQ(reverted.status, 200) << reverted.body.dump();
  EXPECT_EQ(reverted.body["values"]["status"], "open");

  // Optimistic versions: a stale one is 412 and writes nothing; the current one passes.
  const auto stale =
      call("PUT", ref + "o-1", R"({"values": {"status": "lost"}})",
           {{"Authorization", std::string("Bearer ") + kToken}, {"X-Expected-Version", "1"}});
  EXPECT_EQ(stale.status, 412) << stale.body.dump();
  EXPECT_EQ(call("GET", ref + "o-1").body["values"]["status"], "open");
  EXPECT_EQ(call("PUT", ref + "o-1", R"({"values": {"status": "kept"}})",
                 {{"Authorization", std::string("Bearer ") + kToken}, {"X-Expected-Version", "3"}})
                .status,
            200);

  ASSERT_EQ(call("DELETE", ref + "o-1").status, 200);
  const auto gone = call("GET", ref + "o-1");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.body["code"], 5) << gone.body.dump();
  EXPECT_EQ(call("DELETE", ref + "o-1").status, 404);

  // Refused before anything is written: no credentials, bad input.
  EXPECT_EQ(call("POST", ref + "o-3", R"({"values": {}})", {}).status, 401);
  EXPECT_EQ(call("POST", ref + "o-3", R"({"values": )").status, 400);
  EXPECT_EQ(call("GET", "/api/entity/search?domain=" + domain_ + "&type=order").status, 400)
      << "a search needs a limit";
  EXPECT_EQ(call("GET", ref + "o-3").status, 404);
}

INSTANTIATE_TEST_SUITE_P(Dialects, ReflexdEntitiesOn, ::testing::ValuesIn(reflex_test::kDialects),
                         dialect_name);

TEST_F(ReflexdEntities, CurlFollowsEntityChangesAsServerSentEventsWithin100ms) {
  ASSERT_NO_FATAL_FAILURE(start("sqlite://" + (dir_.path() / "sse.db").string()));
  reflex_test::Process curl({"curl", "-sN", "-H", std::string("Authorization: Bearer ") + kToken,
                             base() + "/api/events/stream?domain=" + domain_ + "&type=*"});
  ASSERT_FALSE(curl.wait_for_out(": open").empty()) << curl.err();
  for (int i = 0; i < 3; ++i) {
    const std::string key = "sse-" + std::to_string(i);
    const auto sent = std::chrono::steady_clock::now();
    ASSERT_TRUE(set(key, R"({"n": )" + std::to_string(i) + "}").ok());
    const auto line = curl.wait_for_out("data: (\\{[^\\n]*\"" + key + "\"[^\\n]*\\})\\n", 5s);
    const auto took = std::chrono::steady_clock::now() - sent;
    ASSERT_FALSE(line.empty()) << curl.out();
    EXPECT_LT(took, 100ms);
    const auto event = json::parse(line);
    EXPECT_EQ(event["entity"]["key"], key);
    EXPECT_EQ(event["entity"]["values"]["n"], i);
    EXPECT_EQ(event["method"], "/stategate.EntityService/Set");
  }
}

TEST_F(ReflexdEntities, ABrowserEventSourceSeesAChangeMadeOverGrpc) {
  ASSERT_NO_FATAL_FAILURE(start("sqlite://" + (dir_.path() / "web.db").string()));
  const auto page = (dir_.path() / "page.html").string();
  std::ofstream(page) << R"(<!doctype html><html><body><pre id="out">waiting</pre><script>
const source = new EventSource(")"
                      << base() << "/api/events/stream?domain=" << domain_
                      << "&type=order&access_token=" << kToken << R"(");
source.onmessage = (e) => {
  const event = JSON.parse(e.data);
  document.getElementById("out").textContent =
      "changed " + event.entity.key + " to " + event.entity.values.status;
  source.close();
};
</script></body></html>)";
  // Changes over gRPC until the page has subscribed and shown one.
  std::atomic<bool> done{false};
  std::thread changer([&] {
    for (int i = 0; !done; ++i) {
      EXPECT_TRUE(
          set("web-order", R"({"status": "shipped", "n": )" + std::to_string(i) + "}").ok());
      std::this_thread::sleep_for(100ms);
    }
  });
  const auto result = reflex_test::run_process(
      {"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
       "--user-data-dir=" + (dir_.path() / "profile").string(), "--virtual-time-budget=10000",
       "--dump-dom", "file://" + page},
      {}, 30s);
  done = true;
  changer.join();
  EXPECT_NE(result.out.find("changed web-order to shipped"), std::string::npos)
      << result.out << result.err;
}

/// A JWT from PyJWT (Debian's python3-jwt): HS256 with `secret`, these claims, expiring in
/// `expires_in` seconds (negative: already expired).
std::string jwt(const std::string& secret, const std::string& subject, int expires_in) {
  const auto made = reflex_test::run_process(
      {"/usr/bin/python3", "-c",
       "import jwt, sys, time; print(jwt.encode({'sub': sys.argv[2], 'role': 'clerk', 'exp': "
       "int(time.time()) + int(sys.argv[3])}, sys.argv[1], algorithm='HS256'))",
       secret, subject, std::to_string(expires_in)},
      {}, 20s);
  EXPECT_EQ(made.status, 0) << made.err;
  auto token = made.out;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  return token;
}

TEST_F(ReflexdEntities, JwtsAreVerifiedAndTheirClaimsRecordedInEveryEvent) {
  const std::string secret = "a-shared-secret-of-at-least-32-bytes!";
  const auto secret_file = dir_.path() / "jwt.secret";
  std::ofstream(secret_file) << secret << "\n";
  ASSERT_NO_FATAL_FAILURE(start("sqlite://" + (dir_.path() / "jwt.db").string(),
                                {"REFLEX_JWT_HS256_SECRET_FILE=" + secret_file.string()}));
  EXPECT_EQ(daemon_->err().find("refuse every call"), std::string::npos)
      << "warned although a JWT key is given: " << daemon_->err();
  const auto alice = jwt(secret, "alice", 300);
  ASSERT_TRUE(set("o-1", R"({"a": 1})", "Bearer " + alice).ok());
  const auto rest = call("PATCH", "/api/entity/ref/" + domain_ + "/order/o-1",
                         R"({"values": {"b": 2}})", {{"Authorization", "Bearer " + alice}});
  EXPECT_EQ(rest.status, 200) << rest.body.dump();

  // Refused: expired, signed with another secret, the shared token (none is configured).
  EXPECT_EQ(set("o-2", "{}", "Bearer " + jwt(secret, "alice", -60)).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(set("o-2", "{}", "Bearer " + jwt("another-secret-of-at-least-32-bytes!!", "eve", 300))
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call("POST", "/api/entity/ref/" + domain_ + "/order/o-2", R"({"values": {}})",
                 {{"Authorization", std::string("Bearer ") + kToken}})
                .status,
            401);

  // Who changed what: the claims in the history.
  sg::SearchEventOpts opts;
  opts.set_domain(domain_);
  opts.set_type("order");
  opts.set_limit(10);
  sg::Events history;
  ASSERT_TRUE(events_->Search(context("Bearer " + alice).get(), opts, &history).ok());
  ASSERT_EQ(history.events_size(), 2);
  for (const auto& event : history.events()) {
    EXPECT_EQ(event.claims().fields().at("sub").string_value(), "alice");
    EXPECT_EQ(event.claims().fields().at("role").string_value(), "clerk");
  }
}

}  // namespace
