// reflexd's REST and Server-Sent Events gateway (tools/reflexd/gateway.cpp with the table of
// stategate_routes.cpp) on the tools' HTTP server, in front of an rgrpc::Server reached through
// its in-process channel. Behind it are reflexd's own stategate services from
// reflex::rstategate: peers, cache and locks on the in-process backends, entities and events on
// SQLite in a temporary directory. Every rule of the transcoding is seen: fields from path,
// query and body, the authorization header, the gRPC statuses the services answer as HTTP
// statuses, and streams as Server-Sent Events — to curl and to headless Chromium.

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "gateway.hpp"
#include "http.hpp"
#include "reflex/rgrpc/server.hpp"
#include "reflex/rsql/database.hpp"
#include "reflex/rstate/schema.hpp"
#include "reflex/rstategate/rstategate.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/process.hpp"
#include "reflex_test/wait.hpp"
#include "stategate/schema.grpc.pb.h"
#include "stategate_routes.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace pb = stategate;
namespace rs = reflex::rstategate;

/// Peer Streams open at once at most: small, so that one more is refused (429) in a test.
constexpr std::size_t kMaxPeerStreams = 2;

/// SQLite's write lock on a database file, held by a connection of the test's own from
/// construction until release(): a writer of another connection waits for it (its busy
/// timeout), which makes a real call as slow as the test needs.
class SqliteWriteLock {
 public:
  explicit SqliteWriteLock(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
      ADD_FAILURE() << "cannot open " << path << ": " << sqlite3_errmsg(db_);
      return;
    }
    exec("BEGIN IMMEDIATE");
  }
  ~SqliteWriteLock() {
    release();
    sqlite3_close(db_);
  }
  SqliteWriteLock(const SqliteWriteLock&) = delete;
  SqliteWriteLock& operator=(const SqliteWriteLock&) = delete;

  void release() {
    if (!held_) return;
    held_ = false;
    exec("ROLLBACK");
  }

 private:
  void exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << (error ? error : "?");
    } else {
      held_ = std::string_view(sql) == "BEGIN IMMEDIATE";
    }
    sqlite3_free(error);
  }

  sqlite3* db_ = nullptr;
  bool held_ = false;
};

struct Reply {
  int status = 0;
  json body;
  httplib::Headers headers;
};

/// One request to the gateway on `port`, with `Authorization: Bearer <token>` unless `token` is
/// empty.
Reply call_port(int port, const std::string& method, const std::string& path,
                const std::string& body = "", const std::string& token = "good") {
  httplib::Client client("127.0.0.1", port);
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

/// The gateway as the tests use it, in `http`: every stategate route over `channel`, unary calls
/// with a 300 ms deadline, heartbeats every 300 ms, CORS for any origin.
void start_gateway(std::optional<reflex_tools::HttpServer>& http,
                   std::shared_ptr<grpc::Channel> channel) {
  http.emplace(reflex_tools::ListenAddress{.host = "127.0.0.1", .port = 0},
               reflexd::gateway_routes(std::move(channel), reflexd::stategate_routes(),
                                       {.call_timeout = 300ms, .heartbeat = 300ms}),
               reflex_tools::HttpServerOptions{.cors = reflex_tools::HttpCors{}});
}

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    database_->execute(reflex::rstate::entities_ddl(database_->dialect()));
    reflex::rgrpc::ServerOptions options{
        .services = {peers_.service(), cache_.service(), mutexes_.service(),
                     entity_service_.service(), event_service_.service()},
        // As reflexd's drain does: the services end their streams and refuse new calls.
        .on_stop =
            [this] {
              peers_.shutdown();
              cache_.shutdown();
              mutexes_.shutdown();
              entity_service_.shutdown();
              event_service_.shutdown();
            },
    };
    options.stop_timeout = 2000ms;
    server_.emplace(std::vector<reflex::rgrpc::Endpoint>{}, options);
    start_gateway(http_, server_->in_process_channel());
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
    return call_port(http_->port(), method, path, body, token);
  }

  reflex_test::TempDir dir_;
  const std::string db_path_ = (dir_.path() / "entities.db").string();
  std::shared_ptr<reflex::rsql::Database> database_ =
      reflex::rsql::Database::open("sqlite://" + db_path_);
  const reflex::rstate::Entities entities_{database_};
  rs::PeerService peers_{rs::make_memory_peer_hub(),
                         rs::Identity({.token = "good"}),
                         {.max_streams = kMaxPeerStreams}};
  rs::CacheService cache_{rs::make_memory_cache_store(), rs::Identity({.token = "good"})};
  rs::MutexService mutexes_{rs::make_memory_mutex_store(), rs::Identity({.token = "good"})};
  rs::EntityService entity_service_{entities_, rs::Identity({.token = "good"})};
  rs::EventService event_service_{entities_, rs::Identity({.token = "good"})};
  std::optional<reflex::rgrpc::Server> server_;
  std::optional<reflex_tools::HttpServer> http_;
};

/// {"code": code, "message": non-empty, ...} with HTTP status `status`.
void expect_error(const Reply& reply, int status, grpc::StatusCode code) {
  EXPECT_EQ(reply.status, status) << reply.body.dump();
  ASSERT_TRUE(reply.body.is_object()) << reply.body.dump();
  EXPECT_EQ(reply.body.value("code", -1), static_cast<int>(code)) << reply.body.dump();
  EXPECT_FALSE(reply.body.value("message", "").empty()) << reply.body.dump();
}

/// The service's own message reaches the HTTP client.
void expect_message(const Reply& reply, const std::string& part) {
  EXPECT_NE(reply.body.value("message", "").find(part), std::string::npos) << reply.body.dump();
}

TEST_F(GatewayTest, CacheRoutesSetGetAndDeleteThroughGrpc) {
  EXPECT_EQ(call("PUT", "/api/cache/ref/acct/k1", R"({"value": {"n": 1, "tags": ["a"]}})").status,
            200);
  const auto got = call("GET", "/api/cache/ref/acct/k1");
  ASSERT_EQ(got.status, 200) << got.body.dump();
  EXPECT_EQ(got.body.at("domain"), "acct");  // from the path
  EXPECT_EQ(got.body.at("key"), "k1");
  EXPECT_EQ(got.body.at("value"), json::parse(R"({"n": 1, "tags": ["a"]})"));
  EXPECT_FALSE(got.body.contains("exp"));  // set without one: never expires
  EXPECT_EQ(call("DELETE", "/api/cache/ref/acct/k1").status, 200);
  const auto gone = call("GET", "/api/cache/ref/acct/k1");
  expect_error(gone, 404, grpc::StatusCode::NOT_FOUND);
  expect_message(gone, "acct/k1");
}

TEST_F(GatewayTest, PathParametersWinOverTheBody) {
  ASSERT_EQ(call("PUT", "/api/cache/ref/acct/k2", R"({"domain": "other", "value": "x"})").status,
            200);
  EXPECT_EQ(call("GET", "/api/cache/ref/acct/k2").body.value("value", ""), "x");
  EXPECT_EQ(call("GET", "/api/cache/ref/other/k2").status, 404);
}

/// A google.protobuf.Timestamp in proto3 JSON ("2030-01-01T00:00:00Z") reaches the service as
/// that time and comes back in the same spelling.
TEST_F(GatewayTest, TimestampsTravelAsRfc3339BothWays) {
  ASSERT_EQ(call("PUT", "/api/cache/ref/acct/k3", R"({"value": 1, "exp": "2030-01-01T00:00:00Z"})")
                .status,
            200);
  EXPECT_EQ(call("GET", "/api/cache/ref/acct/k3").body.value("exp", ""), "2030-01-01T00:00:00Z");
  // A time in the past is read as one: the service refuses it.
  const auto past = call("POST", "/api/mutex/ref/d/a/lock", R"({"exp": "2001-01-01T00:00:00Z"})");
  expect_error(past, 400, grpc::StatusCode::INVALID_ARGUMENT);
  expect_message(past, "exp: is in the past");
}

TEST_F(GatewayTest, BothSpellingsOfTheMutexRoutesLockAndUnlock) {
  EXPECT_EQ(call("POST", "/api/mutex/ref/d/a/lock", R"({"exp": "2030-01-01T00:00:00Z"})").status,
            200);
  expect_error(call("POST", "/api/mutex/ref/d/a/lock"), 409, grpc::StatusCode::ALREADY_EXISTS);
  expect_error(call("PUT", "/api/mutex/ref/d/a"), 409, grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(call("POST", "/api/mutex/ref/d/a/unlock").status, 200);
  const auto free = call("POST", "/api/mutex/ref/d/a/unlock");
  expect_error(free, 404, grpc::StatusCode::NOT_FOUND);
  expect_message(free, "d/a is not locked");
  EXPECT_EQ(call("PUT", "/api/mutex/ref/d/b").status, 200);
  EXPECT_EQ(call("DELETE", "/api/mutex/ref/d/b").status, 200);
}

TEST_F(GatewayTest, EachGrpcStatusTheServicesAnswerIsItsHttpStatus) {
  expect_error(call("GET", "/api/cache/ref/acct/k", "", "bad"), 401,
               grpc::StatusCode::UNAUTHENTICATED);
  expect_error(call("GET", "/api/cache/ref/acct/k", "", ""), 401,
               grpc::StatusCode::UNAUTHENTICATED);
  const auto empty = call("POST", "/api/peers/broadcast", R"({"domain": ""})");
  expect_error(empty, 400, grpc::StatusCode::INVALID_ARGUMENT);
  expect_message(empty, "domain: must not be empty");
  expect_error(call("GET", "/api/cache/ref/acct/missing"), 404, grpc::StatusCode::NOT_FOUND);
  ASSERT_EQ(call("PUT", "/api/mutex/ref/d/held").status, 200);
  expect_error(call("PUT", "/api/mutex/ref/d/held"), 409, grpc::StatusCode::ALREADY_EXISTS);
  // A service that is shutting down refuses calls while the server still takes them.
  cache_.shutdown();
  const auto stopping = call("GET", "/api/cache/ref/acct/k");
  expect_error(stopping, 503, grpc::StatusCode::UNAVAILABLE);
  expect_message(stopping, "shutting down");
  // The codes none of these services answers, in the table itself.
  EXPECT_EQ(reflexd::http_status_of(static_cast<int>(grpc::StatusCode::PERMISSION_DENIED)), 403);
  EXPECT_EQ(reflexd::http_status_of(static_cast<int>(grpc::StatusCode::ABORTED)), 409);
  EXPECT_EQ(reflexd::http_status_of(static_cast<int>(grpc::StatusCode::OUT_OF_RANGE)), 400);
  EXPECT_EQ(reflexd::http_status_of(static_cast<int>(grpc::StatusCode::CANCELLED)), 499);
  EXPECT_EQ(reflexd::http_status_of(static_cast<int>(grpc::StatusCode::INTERNAL)), 500);
  EXPECT_EQ(reflexd::http_status_of(static_cast<int>(grpc::StatusCode::DATA_LOSS)), 500);
  EXPECT_EQ(reflexd::http_status_of(static_cast<int>(grpc::StatusCode::UNKNOWN)), 500);
  EXPECT_EQ(reflexd::http_status_of(static_cast<int>(grpc::StatusCode::OK)), 200);
}

/// An entity's Set on a table of a missing schema is FAILED_PRECONDITION naming the DDL helper.
TEST_F(GatewayTest, AFailedPreconditionAnswers412) {
  database_->execute("DROP TABLE entities");
  const auto reply = call("PUT", "/api/entity/ref/d/t/k", R"({"values": {"n": 1}})");
  expect_error(reply, 412, grpc::StatusCode::FAILED_PRECONDITION);
  expect_message(reply, "entities_ddl");
}

/// The gateway's deadline is the call's: an entity's Set that waits for SQLite's write lock
/// (held by another connection) is answered 504 when the 300 ms are up, not when it ends.
TEST_F(GatewayTest, ACallSlowerThanTheCallTimeoutAnswers504) {
  ASSERT_EQ(call("PUT", "/api/entity/ref/d/t/k", R"({"values": {"n": 1}})").status, 200);
  SqliteWriteLock lock(db_path_);
  const auto sent = std::chrono::steady_clock::now();
  expect_error(call("PUT", "/api/entity/ref/d/t/k", R"({"values": {"n": 2}})"), 504,
               grpc::StatusCode::DEADLINE_EXCEEDED);
  // Well before the busy timeout (5 s) would have ended the Set.
  EXPECT_LT(std::chrono::steady_clock::now() - sent, 2s);
  lock.release();
  EXPECT_EQ(call("PUT", "/api/entity/ref/d/t/k", R"({"values": {"n": 3}})").status, 200);
}

/// More peer Streams than the service allows: the one too many is RESOURCE_EXHAUSTED, 429.
TEST_F(GatewayTest, AStreamPastTheServicesLimitAnswers429) {
  std::vector<std::unique_ptr<reflex_test::Process>> open;
  for (std::size_t i = 0; i < kMaxPeerStreams; ++i) {
    open.push_back(std::make_unique<reflex_test::Process>(std::vector<std::string>{
        "curl", "-sN",
        base() + "/api/peers/stream?domain=full&channel=*&type=*&access_token=good"}));
    ASSERT_FALSE(open.back()->wait_for_out(": open").empty()) << open.back()->err();
  }
  ASSERT_TRUE(reflex_test::eventually([&] { return peers_.open_streams() == kMaxPeerStreams; }));
  const auto refused = call("GET", "/api/peers/stream?domain=full&channel=*&type=*");
  expect_error(refused, 429, grpc::StatusCode::RESOURCE_EXHAUSTED);
  expect_message(refused, "too many open peer streams");
}

/// A service that is not hosted is gRPC's own UNIMPLEMENTED: 501.
TEST(GatewayWithoutEntities, AServiceNotHostedAnswers501) {
  rs::CacheService cache(rs::make_memory_cache_store(), rs::Identity({.token = "good"}));
  reflex::rgrpc::Server server(std::vector<reflex::rgrpc::Endpoint>{},
                               {.services = {cache.service()}});
  std::optional<reflex_tools::HttpServer> http;
  start_gateway(http, server.in_process_channel());
  ASSERT_EQ(call_port(http->port(), "PUT", "/api/cache/ref/a/b", R"({"value": 1})").status, 200);
  expect_error(call_port(http->port(), "GET", "/api/entity/ref/a/b/c"), 501,
               grpc::StatusCode::UNIMPLEMENTED);
  expect_error(call_port(http->port(), "GET", "/api/events/stream?domain=a&type=b"), 501,
               grpc::StatusCode::UNIMPLEMENTED);
  server.stop();
}

/// Once the server behind it stops (reflexd's drain sets the flag first), a request answers 503
/// at once: it never reaches the stopped server's in-process channel, on which gRPC would crash.
TEST(GatewayWhileStopping, RequestsAfterTheServerStoppedAnswer503) {
  rs::CacheService cache(rs::make_memory_cache_store(), rs::Identity({.token = "good"}));
  reflex::rgrpc::Server server(std::vector<reflex::rgrpc::Endpoint>{},
                               {.services = {cache.service()}});
  auto stopping = std::make_shared<std::atomic<bool>>(false);
  reflex_tools::HttpServer http(
      reflex_tools::ListenAddress{.host = "127.0.0.1", .port = 0},
      reflexd::gateway_routes(server.in_process_channel(), reflexd::stategate_routes(),
                              {.stopping = stopping}));
  ASSERT_EQ(call_port(http.port(), "PUT", "/api/cache/ref/a/b", R"({"value": 1})").status, 200);
  stopping->store(true);
  server.stop();
  expect_error(call_port(http.port(), "GET", "/api/cache/ref/a/b"), 503,
               grpc::StatusCode::UNAVAILABLE);
  expect_error(call_port(http.port(), "GET", "/api/peers/stream?domain=a&channel=*&type=*"), 503,
               grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GatewayTest, RequestsThatAreNoMessageAnswer400) {
  expect_error(call("PUT", "/api/cache/ref/acct/k", "{not json"), 400,
               grpc::StatusCode::INVALID_ARGUMENT);
  expect_error(call("PUT", "/api/cache/ref/acct/k", R"({"valeu": 1})"), 400,
               grpc::StatusCode::INVALID_ARGUMENT);
  const auto unknown = call("GET", "/api/peers/stream?domain=a&colour=red");
  expect_error(unknown, 400, grpc::StatusCode::INVALID_ARGUMENT);
  expect_message(unknown, "colour");
  // Not a route: 404 and 405 from the server.
  EXPECT_EQ(call("GET", "/api/nothing").status, 404);
  EXPECT_EQ(call("PATCH", "/api/cache/ref/acct/k").status, 405);
}

TEST_F(GatewayTest, EntityRoutesSetEditGetAndDeleteThroughGrpc) {
  const auto set = call("PUT", "/api/entity/ref/shop/order/o1", R"({"values": {"n": 1}})");
  ASSERT_EQ(set.status, 200) << set.body.dump();
  const auto edited =
      call("PATCH", "/api/entity/ref/shop/order/o1", R"({"values": {"paid": true}})");
  ASSERT_EQ(edited.status, 200) << edited.body.dump();
  EXPECT_EQ(edited.body.at("values"), json::parse(R"({"n": 1, "paid": true})"));
  const auto got = call("GET", "/api/entity/ref/shop/order/o1");
  ASSERT_EQ(got.status, 200) << got.body.dump();
  EXPECT_EQ(got.body.at("key"), "o1");
  EXPECT_EQ(got.body.at("values"), json::parse(R"({"n": 1, "paid": true})"));
  EXPECT_EQ(call("DELETE", "/api/entity/ref/shop/order/o1").status, 200);
  expect_error(call("GET", "/api/entity/ref/shop/order/o1"), 404, grpc::StatusCode::NOT_FOUND);
  // The history stays: Set, Edit and Del, each an event.
  const auto events = call("GET", "/api/events/search?domain=shop&type=order&limit=10");
  ASSERT_EQ(events.status, 200) << events.body.dump();
  EXPECT_EQ(events.body.value("events", json::array()).size(), 3u) << events.body.dump();
}

TEST_F(GatewayTest, QueryParametersFillNestedFieldsByEitherName) {
  // Malformed values are refused with 400 before any call.
  expect_error(call("GET", "/api/entity/search?domain=a&type=b&limit=x"), 400,
               grpc::StatusCode::INVALID_ARGUMENT);
  expect_error(call("GET", "/api/entity/search?domain=a&sort.reverse=maybe"), 400,
               grpc::StatusCode::INVALID_ARGUMENT);
  for (const std::string name : {"a", "b", "c", "d"}) {
    const std::string kind = name == "d" ? "y" : "x";
    ASSERT_EQ(call("PUT", "/api/entity/ref/a/b/" + name,
                   R"({"values": {"name": ")" + name + R"(", "kind": ")" + kind + R"("}})")
                  .status,
              200);
  }
  // The filter (by its JSON name), limit, offset and the nested sort reach the service: of
  // a, b, c (kind x), reversed by name, the 2nd and 3rd.
  const auto found =
      call("GET",
           "/api/entity/search?domain=a&type=b&queryString=%7B%22kind%22%3A%22x%22%7D"
           "&limit=2&offset=1&sort.field=name&sort.reverse=true");
  ASSERT_EQ(found.status, 200) << found.body.dump();
  std::vector<std::string> keys;
  for (const auto& entity : found.body.value("entities", json::array())) {
    keys.push_back(entity.at("key"));
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"b", "a"})) << found.body.dump();
  // The filter by its proto name, and an int64 beyond a double's precision (the largest), as
  // proto3 JSON spells it in a query: d's one event.
  const auto events = call("GET",
                           "/api/events/search?domain=a&type=b&limit=10&min=1"
                           "&max=9223372036854775807&query_string=%7B%22kind%22%3A%22y%22%7D");
  ASSERT_EQ(events.status, 200) << events.body.dump();
  const auto list = events.body.value("events", json::array());
  ASSERT_EQ(list.size(), 1u) << events.body.dump();
  EXPECT_EQ(list[0].at("entity").at("key"), "d");
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
  const auto empty = call("GET", "/api/peer/stream?domain=", "", "good");
  expect_error(empty, 400, grpc::StatusCode::INVALID_ARGUMENT);
  expect_message(empty, "domain");
  expect_error(call("GET", "/api/events/stream?domain=a", "", "good"), 400,
               grpc::StatusCode::INVALID_ARGUMENT);  // no type
}

/// A message broadcast over REST (both spellings) reaches a curl -N reader of the stream route
/// as one `data:` line of proto3 JSON within 100 ms.
TEST_F(GatewayTest, CurlReceivesABroadcastAsAServerSentEventWithin100ms) {
  reflex_test::Process curl({"curl", "-sN", "-H", "Authorization: Bearer good",
                             base() + "/api/peers/stream?domain=chat&channel=*&type=*"});
  ASSERT_FALSE(curl.wait_for_out(": open").empty()) << curl.err();
  ASSERT_TRUE(reflex_test::eventually([&] { return peers_.open_streams() == 1; }));
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
    EXPECT_EQ(message.value("id", "").size(), 36u) << line;  // a uuid from the service
  }
}

/// An entity changed over REST reaches a curl -N reader of the event stream route as its event.
TEST_F(GatewayTest, CurlReceivesAnEntityChangeAsAServerSentEvent) {
  reflex_test::Process curl(
      {"curl", "-sN", base() + "/api/events/stream?domain=shop&type=*&access_token=good"});
  ASSERT_FALSE(curl.wait_for_out(": open").empty()) << curl.err();
  ASSERT_EQ(call("PUT", "/api/entity/ref/shop/order/o7", R"({"values": {"total": 7}})").status,
            200);
  const auto line = curl.wait_for_out("data: (\\{[^\\n]*o7[^\\n]*\\})\\n", 5s);
  ASSERT_FALSE(line.empty()) << curl.out();
  const auto event = json::parse(line);
  EXPECT_EQ(event.at("entity").at("key"), "o7");
  EXPECT_EQ(event.at("entity").at("values").at("total"), 7);
  EXPECT_NE(event.value("method", "").find("Set"), std::string::npos) << line;
}

TEST_F(GatewayTest, QuietStreamSendsHeartbeatsAndClientThatLeavesCancelsIt) {
  reflex_test::Process curl(
      {"curl", "-sN", base() + "/api/peer/stream?domain=quiet&channel=*&type=*&access_token=good"});
  ASSERT_FALSE(curl.wait_for_out(": open").empty()) << curl.err();
  EXPECT_FALSE(curl.wait_for_out(": keep-alive", 5s).empty()) << curl.out();
  ASSERT_TRUE(reflex_test::eventually([&] { return peers_.open_streams() == 1; }));
  curl.kill();
  // The client left without a write failing: the gateway notices the closed socket and
  // cancels the gRPC stream.
  EXPECT_TRUE(reflex_test::eventually([&] { return peers_.open_streams() == 0; }, 3s));
}

/// A drain ends open peer and event streams with the services' UNAVAILABLE, at once.
TEST_F(GatewayTest, DrainEndsTheStreamsWithTheirStatus) {
  reflex_test::Process peer(
      {"curl", "-sN", base() + "/api/peers/stream?domain=d&channel=*&type=*&access_token=good"});
  reflex_test::Process events(
      {"curl", "-sN", base() + "/api/events/stream?domain=d&type=t&access_token=good"});
  ASSERT_FALSE(peer.wait_for_out(": open").empty()) << peer.err();
  ASSERT_FALSE(events.wait_for_out(": open").empty()) << events.err();
  const auto started = std::chrono::steady_clock::now();
  std::thread stop([&] { server_->stop(); });
  const std::string end = "event: end\ndata: (\\{[^\\n]*\"code\":14[^\\n]*\\})";
  EXPECT_FALSE(peer.wait_for_out(end).empty()) << peer.out();
  EXPECT_FALSE(events.wait_for_out(end).empty()) << events.out();
  EXPECT_EQ(peer.wait(5s), 0);  // the responses ended
  EXPECT_EQ(events.wait(5s), 0);
  stop.join();
  // Well within the stop timeout (2 s): the streams did not wait to be cancelled.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
}

/// A page of another origin (a file) follows the stream with EventSource, in headless
/// Chromium; a message broadcast over gRPC lands in its DOM.
TEST_F(GatewayTest, BrowserEventSourceReceivesAMessageBroadcastOverGrpc) {
  reflex_test::TempDir dir;
  const auto page = (dir.path() / "page.html").string();
  std::ofstream(page) << R"(<!doctype html><html><body><pre id="out">waiting</pre><script>
const source = new EventSource(")"
                      << base()
                      << R"(/api/peers/stream?domain=web&channel=*&type=*&access_token=good");
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
      if (peers_.open_streams() > 0) {
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
