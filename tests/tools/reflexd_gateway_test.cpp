// reflexd's REST and Server-Sent Events gateway (tools/reflexd/gateway.cpp with the table of
// stategate_routes.cpp) on the tools' HTTP server, in front of an rgrpc::Server reached through
// its in-process channel. The services behind it are small ones of this test's own, written
// against the generated stategate API, so that every rule of the transcoding is seen: fields
// from path, query and body, the authorization header, each gRPC status as its HTTP status, and
// streams as Server-Sent Events — to curl and to headless Chromium.

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "gateway.hpp"
#include "http.hpp"
#include "reflex/rgrpc/server.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/process.hpp"
#include "reflex_test/wait.hpp"
#include "stategate/schema.grpc.pb.h"
#include "stategate_routes.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace pb = stategate;

grpc::Status authorized(const grpc::ServerContext& ctx) {
  const auto it = ctx.client_metadata().find("authorization");
  if (it == ctx.client_metadata().end() || it->second != "Bearer good") {
    return {grpc::StatusCode::UNAUTHENTICATED, "no or a wrong token"};
  }
  return grpc::Status::OK;
}

/// Broadcast to every open Stream of the domain (or "*"), in memory.
class Peers final : public pb::PeerService::Service {
 public:
  grpc::Status Broadcast(grpc::ServerContext* ctx, const pb::Message* req,
                         google::protobuf::Empty*) override {
    if (auto status = authorized(*ctx); !status.ok()) return status;
    if (req->domain().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "domain is empty"};
    pb::PeerMessage message;
    message.set_id("m" + std::to_string(++sent_));
    message.set_domain(req->domain());
    message.set_channel(req->channel());
    message.set_type(req->type());
    *message.mutable_body() = req->body();
    const std::lock_guard lock(mutex_);
    for (auto* inbox : inboxes_) {
      if (inbox->domain == "*" || inbox->domain == req->domain())
        inbox->messages.push_back(message);
    }
    changed_.notify_all();
    return grpc::Status::OK;
  }

  grpc::Status Stream(grpc::ServerContext* ctx, const pb::StreamMessageOpts* req,
                      grpc::ServerWriter<pb::PeerMessage>* writer) override {
    if (auto status = authorized(*ctx); !status.ok()) return status;
    if (req->domain().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "domain is empty"};
    Inbox inbox{req->domain(), {}};
    {
      const std::lock_guard lock(mutex_);
      inboxes_.insert(&inbox);
    }
    ++open_;
    writer->SendInitialMetadata();
    std::unique_lock lock(mutex_);
    while (!ctx->IsCancelled() && !stopping_) {
      changed_.wait_for(lock, 20ms, [&] { return !inbox.messages.empty() || stopping_; });
      while (!inbox.messages.empty()) {
        auto message = std::move(inbox.messages.front());
        inbox.messages.pop_front();
        lock.unlock();
        const bool written = writer->Write(message);
        lock.lock();
        if (!written) break;
      }
    }
    inboxes_.erase(&inbox);
    --open_;
    if (stopping_) return {grpc::StatusCode::UNAVAILABLE, "server shutting down"};
    return {grpc::StatusCode::CANCELLED, "the client went away"};
  }

  void shutdown() {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
  }
  /// Streams open now.
  [[nodiscard]] int open() const { return open_; }

 private:
  struct Inbox {
    std::string domain;
    std::deque<pb::PeerMessage> messages;
  };
  std::mutex mutex_;
  std::condition_variable changed_;
  std::set<Inbox*> inboxes_;
  bool stopping_ = false;
  std::atomic<int> open_{0};
  std::atomic<int> sent_{0};
};

/// The cache in a map; Get of a missing key is NOT_FOUND.
class Cache final : public pb::CacheService::Service {
 public:
  grpc::Status Set(grpc::ServerContext* ctx, const pb::Cache* req,
                   google::protobuf::Empty*) override {
    if (auto status = authorized(*ctx); !status.ok()) return status;
    if (req->domain().empty() || req->key().empty()) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "domain and key must not be empty"};
    }
    const std::lock_guard lock(mutex_);
    values_[req->domain() + "/" + req->key()] = *req;
    return grpc::Status::OK;
  }
  grpc::Status Get(grpc::ServerContext* ctx, const pb::CacheRef* req, pb::Cache* out) override {
    if (auto status = authorized(*ctx); !status.ok()) return status;
    const std::lock_guard lock(mutex_);
    const auto it = values_.find(req->domain() + "/" + req->key());
    if (it == values_.end()) return {grpc::StatusCode::NOT_FOUND, "no value for " + req->key()};
    *out = it->second;
    return grpc::Status::OK;
  }
  grpc::Status Del(grpc::ServerContext* ctx, const pb::CacheRef* req,
                   google::protobuf::Empty*) override {
    if (auto status = authorized(*ctx); !status.ok()) return status;
    const std::lock_guard lock(mutex_);
    values_.erase(req->domain() + "/" + req->key());
    return grpc::Status::OK;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, pb::Cache> values_;
};

/// Locks in a set: Lock of a held key is ALREADY_EXISTS, Unlock of a free one
/// FAILED_PRECONDITION, a key "slow" takes longer than the gateway's call timeout, a key
/// "forbidden" is PERMISSION_DENIED, "busy" UNAVAILABLE, "broken" INTERNAL and "torn" ABORTED.
class Mutexes final : public pb::MutexService::Service {
 public:
  grpc::Status Lock(grpc::ServerContext* ctx, const pb::Mutex* req,
                    google::protobuf::Empty*) override {
    if (auto status = authorized(*ctx); !status.ok()) return status;
    if (req->key() == "slow") {
      std::this_thread::sleep_for(600ms);  // past the gateway's 300 ms deadline
      return grpc::Status::OK;
    }
    static const std::map<std::string, grpc::StatusCode> faults{
        {"forbidden", grpc::StatusCode::PERMISSION_DENIED},
        {"busy", grpc::StatusCode::UNAVAILABLE},
        {"broken", grpc::StatusCode::INTERNAL},
        {"torn", grpc::StatusCode::ABORTED}};
    if (const auto it = faults.find(req->key()); it != faults.end()) {
      return {it->second, "fault " + req->key()};
    }
    const std::lock_guard lock(mutex_);
    if (!held_.insert(req->domain() + "/" + req->key()).second) {
      return {grpc::StatusCode::ALREADY_EXISTS, "already locked"};
    }
    last_exp_ = req->exp().seconds();
    return grpc::Status::OK;
  }
  grpc::Status Unlock(grpc::ServerContext* ctx, const pb::MutexRef* req,
                      google::protobuf::Empty*) override {
    if (auto status = authorized(*ctx); !status.ok()) return status;
    const std::lock_guard lock(mutex_);
    if (held_.erase(req->domain() + "/" + req->key()) == 0) {
      return {grpc::StatusCode::FAILED_PRECONDITION, "not locked"};
    }
    return grpc::Status::OK;
  }
  [[nodiscard]] std::int64_t last_exp() {
    const std::lock_guard lock(mutex_);
    return last_exp_;
  }

 private:
  std::mutex mutex_;
  std::set<std::string> held_;
  std::int64_t last_exp_ = 0;
};

struct Reply {
  int status = 0;
  json body;
  httplib::Headers headers;
};

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reflex::rgrpc::ServerOptions options{
        .services = {&peers_, &cache_, &mutexes_},
        .on_stop = [this] { peers_.shutdown(); },
    };
    options.stop_timeout = 2000ms;
    server_.emplace(std::vector<reflex::rgrpc::Endpoint>{}, options);
    http_.emplace(
        reflex_tools::ListenAddress{.host = "127.0.0.1", .port = 0},
        reflexd::gateway_routes(server_->in_process_channel(), reflexd::stategate_routes(),
                                {.call_timeout = 300ms, .heartbeat = 300ms}),
        reflex_tools::HttpServerOptions{.cors = reflex_tools::HttpCors{}});
  }
  void TearDown() override {
    server_->stop();
    http_.reset();
    server_.reset();
  }

  [[nodiscard]] std::string base() const {
    return "http://127.0.0.1:" + std::to_string(http_->port());
  }

  Reply call(const std::string& method, const std::string& path, const std::string& body = "",
             const std::string& token = "good") {
    httplib::Client client("127.0.0.1", http_->port());
    client.set_read_timeout(10, 0);
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    const auto result = [&] {
      if (method == "GET") return client.Get(path.c_str(), headers);
      if (method == "POST") return client.Post(path.c_str(), headers, body, "application/json");
      if (method == "PUT") return client.Put(path.c_str(), headers, body, "application/json");
      if (method == "PATCH") return client.Patch(path.c_str(), headers, body, "application/json");
      return client.Delete(path.c_str(), headers, body, "application/json");
    }();
    Reply reply;
    if (!result) {
      ADD_FAILURE() << method << " " << path << ": no answer";
      return reply;
    }
    reply.status = result->status;
    reply.headers = result->headers;
    reply.body = json::parse(result->body, nullptr, false);
    if (result->get_header_value("Content-Type") == "application/json") {
      EXPECT_FALSE(reply.body.is_discarded()) << method << " " << path << ": " << result->body;
    }
    return reply;
  }

  Peers peers_;
  Cache cache_;
  Mutexes mutexes_;
  std::optional<reflex::rgrpc::Server> server_;
  std::optional<reflex_tools::HttpServer> http_;
};

/// {"code": code, ...} with HTTP status `status`.
void expect_error(const Reply& reply, int status, grpc::StatusCode code) {
  EXPECT_EQ(reply.status, status) << reply.body.dump();
  ASSERT_TRUE(reply.body.is_object()) << reply.body.dump();
  EXPECT_EQ(reply.body.value("code", -1), static_cast<int>(code)) << reply.body.dump();
  EXPECT_FALSE(reply.body.value("message", "").empty()) << reply.body.dump();
}

TEST_F(GatewayTest, CacheRoutesSetGetAndDeleteThroughGrpc) {
  EXPECT_EQ(call("PUT", "/api/cache/ref/acct/k1", R"({"value": {"n": 1, "tags": ["a"]}})").status,
            200);
  const auto got = call("GET", "/api/cache/ref/acct/k1");
  ASSERT_EQ(got.status, 200) << got.body.dump();
  EXPECT_EQ(got.body.at("domain"), "acct");  // from the path
  EXPECT_EQ(got.body.at("key"), "k1");
  EXPECT_EQ(got.body.at("value"), json::parse(R"({"n": 1, "tags": ["a"]})"));
  EXPECT_EQ(call("DELETE", "/api/cache/ref/acct/k1").status, 200);
  expect_error(call("GET", "/api/cache/ref/acct/k1"), 404, grpc::StatusCode::NOT_FOUND);
}

TEST_F(GatewayTest, PathParametersWinOverTheBody) {
  ASSERT_EQ(call("PUT", "/api/cache/ref/acct/k2", R"({"domain": "other", "value": "x"})").status,
            200);
  EXPECT_EQ(call("GET", "/api/cache/ref/acct/k2").body.value("value", ""), "x");
  EXPECT_EQ(call("GET", "/api/cache/ref/other/k2").status, 404);
}

TEST_F(GatewayTest, BothSpellingsOfTheMutexRoutesLockAndUnlock) {
  EXPECT_EQ(call("POST", "/api/mutex/ref/d/a/lock", R"({"exp": "2030-01-01T00:00:00Z"})").status,
            200);
  EXPECT_EQ(mutexes_.last_exp(), 1893456000);  // a Timestamp from proto3 JSON
  expect_error(call("POST", "/api/mutex/ref/d/a/lock"), 409, grpc::StatusCode::ALREADY_EXISTS);
  expect_error(call("PUT", "/api/mutex/ref/d/a"), 409, grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(call("POST", "/api/mutex/ref/d/a/unlock").status, 200);
  expect_error(call("POST", "/api/mutex/ref/d/a/unlock"), 412,
               grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(call("PUT", "/api/mutex/ref/d/b").status, 200);
  EXPECT_EQ(call("DELETE", "/api/mutex/ref/d/b").status, 200);
}

TEST_F(GatewayTest, EachGrpcStatusAnswersItsHttpStatus) {
  expect_error(call("GET", "/api/cache/ref/acct/k", "", "bad"), 401,
               grpc::StatusCode::UNAUTHENTICATED);
  expect_error(call("GET", "/api/cache/ref/acct/k", "", ""), 401,
               grpc::StatusCode::UNAUTHENTICATED);
  expect_error(call("POST", "/api/mutex/ref/d/forbidden/lock"), 403,
               grpc::StatusCode::PERMISSION_DENIED);
  expect_error(call("POST", "/api/mutex/ref/d/torn/lock"), 409, grpc::StatusCode::ABORTED);
  expect_error(call("POST", "/api/mutex/ref/d/busy/lock"), 503, grpc::StatusCode::UNAVAILABLE);
  expect_error(call("POST", "/api/mutex/ref/d/broken/lock"), 500, grpc::StatusCode::INTERNAL);
  expect_error(call("POST", "/api/mutex/ref/d/slow/lock"), 504,
               grpc::StatusCode::DEADLINE_EXCEEDED);
  expect_error(call("POST", "/api/peers/broadcast", R"({"domain": ""})"), 400,
               grpc::StatusCode::INVALID_ARGUMENT);
  // The entity and event services are not hosted here.
  expect_error(call("GET", "/api/entity/ref/a/b/c"), 501, grpc::StatusCode::UNIMPLEMENTED);
  // And the table itself.
  EXPECT_EQ(reflexd::http_status_of(static_cast<int>(grpc::StatusCode::NOT_FOUND)), 404);
  EXPECT_EQ(reflexd::http_status_of(static_cast<int>(grpc::StatusCode::ALREADY_EXISTS)), 409);
  EXPECT_EQ(reflexd::http_status_of(static_cast<int>(grpc::StatusCode::DATA_LOSS)), 500);
  EXPECT_EQ(reflexd::http_status_of(static_cast<int>(grpc::StatusCode::OK)), 200);
}

TEST_F(GatewayTest, RequestsThatAreNoMessageAnswer400) {
  expect_error(call("PUT", "/api/cache/ref/acct/k", "{not json"), 400,
               grpc::StatusCode::INVALID_ARGUMENT);
  expect_error(call("PUT", "/api/cache/ref/acct/k", R"({"valeu": 1})"), 400,
               grpc::StatusCode::INVALID_ARGUMENT);
  const auto unknown = call("GET", "/api/peers/stream?domain=a&colour=red");
  expect_error(unknown, 400, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(unknown.body.value("message", "").find("colour"), std::string::npos);
  // Not a route: 404 and 405 from the server.
  EXPECT_EQ(call("GET", "/api/nothing").status, 404);
  EXPECT_EQ(call("PATCH", "/api/cache/ref/acct/k").status, 405);
}

TEST_F(GatewayTest, QueryParametersFillNestedFieldsByEitherName) {
  // The path of SearchEntityOpts is no service here; the request is built before the call, so a
  // malformed value is refused with 400 and a good one reaches gRPC (501: not hosted).
  expect_error(call("GET", "/api/entity/search?domain=a&type=b&limit=x"), 400,
               grpc::StatusCode::INVALID_ARGUMENT);
  expect_error(call("GET", "/api/entity/search?domain=a&sort.reverse=maybe"), 400,
               grpc::StatusCode::INVALID_ARGUMENT);
  expect_error(call("GET",
                    "/api/entity/search?domain=a&type=b&query_string=%7B%7D&limit=5&offset=2"
                    "&sort.field=name&sort.reverse=true&queryString=%7B%7D"),
               501, grpc::StatusCode::UNIMPLEMENTED);
  expect_error(call("GET", "/api/events/search?domain=a&type=b&min=1&max=9007199254740993"), 501,
               grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(GatewayTest, CorsPreflightNamesWhatThePageAsksFor) {
  httplib::Client client("127.0.0.1", http_->port());
  const auto reply = client.Options(
      "/api/peers/broadcast", {{"Origin", "http://page.example"},
                               {"Access-Control-Request-Method", "POST"},
                               {"Access-Control-Request-Headers", "authorization,content-type"}});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 204);
  EXPECT_EQ(reply->get_header_value("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(reply->get_header_value("Access-Control-Allow-Headers"), "authorization,content-type");
  EXPECT_NE(reply->get_header_value("Access-Control-Allow-Methods").find("POST"),
            std::string::npos);
  EXPECT_EQ(call("GET", "/api/cache/ref/a/b").headers.find("Access-Control-Allow-Origin")->second,
            "*");
}

TEST_F(GatewayTest, StreamRefusedAtOnceAnswersAnHttpError) {
  expect_error(call("GET", "/api/peers/stream?domain=a", "", "bad"), 401,
               grpc::StatusCode::UNAUTHENTICATED);
  expect_error(call("GET", "/api/peer/stream?domain=", "", "good"), 400,
               grpc::StatusCode::INVALID_ARGUMENT);
}

/// A message broadcast over REST (both spellings) reaches a curl -N reader of the stream route
/// as one `data:` line of proto3 JSON within 100 ms.
TEST_F(GatewayTest, CurlReceivesABroadcastAsAServerSentEventWithin100ms) {
  reflex_test::Process curl({"curl", "-sN", "-H", "Authorization: Bearer good",
                             base() + "/api/peers/stream?domain=chat&channel=*&type=*"});
  ASSERT_FALSE(curl.wait_for_out(": open").empty()) << curl.err();
  ASSERT_TRUE(reflex_test::eventually([&] { return peers_.open() == 1; }));
  for (const std::string path : {"/api/peers/broadcast", "/api/peer/broadcast"}) {
    const auto before = curl.out().size();
    const auto sent = std::chrono::steady_clock::now();
    ASSERT_EQ(call("POST", path,
                   R"({"domain":"chat","channel":"general","type":"text","body":{"say":")" + path +
                       R"("}})")
                  .status,
              200);
    const auto line = curl.wait_for_out("data: (\\{[^\\n]*" + path + "[^\\n]*\\})\\n", 5s);
    const auto took = std::chrono::steady_clock::now() - sent;
    ASSERT_FALSE(line.empty()) << curl.out().substr(before);
    EXPECT_LT(took, 100ms);
    const auto message = json::parse(line);
    EXPECT_EQ(message.at("domain"), "chat");
    EXPECT_EQ(message.at("channel"), "general");
    EXPECT_EQ(message.at("body").at("say"), path);
  }
}

TEST_F(GatewayTest, QuietStreamSendsHeartbeatsAndClientThatLeavesCancelsIt) {
  reflex_test::Process curl(
      {"curl", "-sN", base() + "/api/peer/stream?domain=quiet&access_token=good"});
  ASSERT_FALSE(curl.wait_for_out(": open").empty()) << curl.err();
  EXPECT_FALSE(curl.wait_for_out(": keep-alive", 5s).empty()) << curl.out();
  ASSERT_TRUE(reflex_test::eventually([&] { return peers_.open() == 1; }));
  curl.kill();
  // The client left without a write failing: the gateway notices the closed socket and
  // cancels the gRPC stream.
  EXPECT_TRUE(reflex_test::eventually([&] { return peers_.open() == 0; }, 3s));
}

TEST_F(GatewayTest, DrainEndsTheStreamWithItsStatus) {
  reflex_test::Process curl(
      {"curl", "-sN", base() + "/api/peers/stream?domain=d&access_token=good"});
  ASSERT_FALSE(curl.wait_for_out(": open").empty()) << curl.err();
  std::thread stop([&] { server_->stop(); });
  EXPECT_FALSE(curl.wait_for_out("event: end\ndata: (\\{[^\\n]*\"code\":14[^\\n]*\\})").empty())
      << curl.out();
  EXPECT_EQ(curl.wait(5s), 0);  // the response ended
  stop.join();
}

/// A page of another origin (a file) follows the stream with EventSource, in headless
/// Chromium; a message broadcast over gRPC lands in its DOM.
TEST_F(GatewayTest, BrowserEventSourceReceivesAMessageBroadcastOverGrpc) {
  reflex_test::TempDir dir;
  const auto page = (dir.path() / "page.html").string();
  std::ofstream(page) << R"(<!doctype html><html><body><pre id="out">waiting</pre><script>
const source = new EventSource(")"
                      << base() << R"(/api/peers/stream?domain=web&access_token=good");
source.onmessage = (e) => {
  const m = JSON.parse(e.data);
  document.getElementById("out").textContent = "got " + m.type + " " + m.body.text;
  source.close();
};
</script></body></html>)";
  // Broadcast over gRPC (not through the gateway) until the page has subscribed and got one.
  auto channel = server_->in_process_channel();
  auto stub = pb::PeerService::NewStub(channel);
  std::atomic<bool> done{false};
  std::atomic<int> broadcasts{0};
  std::thread broadcaster([&] {
    while (!done) {
      if (peers_.open() > 0) {
        ++broadcasts;
        grpc::ClientContext ctx;
        ctx.AddMetadata("authorization", "Bearer good");
        pb::Message message;
        message.set_domain("web");
        message.set_channel("c");
        message.set_type("greeting");
        (*message.mutable_body()->mutable_fields())["text"].set_string_value("hello-from-grpc");
        google::protobuf::Empty empty;
        EXPECT_TRUE(stub->Broadcast(&ctx, message, &empty).ok());
      }
      std::this_thread::sleep_for(50ms);
    }
  });
  const auto result = reflex_test::run_process(
      {"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
       "--user-data-dir=" + (dir.path() / "profile").string(), "--virtual-time-budget=10000",
       "--dump-dom", "file://" + page},
      {}, 20s);
  done = true;
  broadcaster.join();
  ASSERT_EQ(result.status, 0) << "broadcasts: " << broadcasts << "\n" << result.err;
  EXPECT_NE(result.out.find("got greeting hello-from-grpc"), std::string::npos) << result.out;
}

}  // namespace
