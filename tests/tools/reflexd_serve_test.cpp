// reflexd serving: /healthz, /readyz and /metrics over HTTP; gRPC health and reflection; the
// reflexpb streams of a SQLite outbox; /readyz following NATS down and back; SIGTERM draining
// an open stream; log lines that are JSON (or human-readable with DEVELOPMENT=true).

#include <signal.h>

#include <future>
#include <regex>

#include "reflex/errors.hpp"
#include "reflex/rgrpc/client.hpp"
#include "reflex_test/services.hpp"
#include "reflex_test/wait.hpp"
#include "reflexd_harness.hpp"

namespace {

using namespace reflexd_test;

std::vector<std::string> local_ports(std::vector<std::string> env) {
  env.insert(env.begin(), {"REFLEX_LISTEN=127.0.0.1:0", "REFLEX_HTTP=127.0.0.1:0"});
  return env;
}

TEST_F(ReflexdTest, ServesHealthReadinessAndMetricsOverHttp) {
  publish(2);
  Reflexd daemon({}, local_ports({"REFLEX_STREAMS=" + stream}));
  ASSERT_TRUE(daemon.started()) << daemon.err();
  const auto health = http_get(daemon.http_port(), "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_TRUE(reflex_test::eventually(
      [&] { return http_get(daemon.http_port(), "/readyz").status == 200; }, 5s));

  auto events = reflex::rgrpc::stream_func({.target = daemon.grpc()});
  auto client = events({}, "", {.to_head = true});
  EXPECT_EQ(client->recv().foreign_id, "f1");
  EXPECT_EQ(client->recv().foreign_id, "f2");
  EXPECT_THROW((void)client->recv(), reflex::HeadReached);
  client.reset();

  std::string metrics;
  EXPECT_TRUE(reflex_test::eventually(
      [&] {
        // A call is counted when it is done, just after the client saw its end.
        metrics = http_get(daemon.http_port(), "/metrics").body;
        return std::regex_search(
            metrics,
            std::regex(
                R"(reflex_grpc_requests_total\{code="[A-Z_]+",method="Stream",service="reflexpb\.Reflex"\} 1)"));
      },
      5s))
      << metrics;
  for (const char* line :
       {"reflexd_up 1", "reflexd_ready 1", "reflex_serve_events_sent_total 2",
        "reflex_grpc_request_duration_seconds_count{method=\"Stream\",service=\"reflexpb.Reflex\"}",
        "reflex_grpc_requests_in_flight{method=\"Stream\",service=\"reflexpb.Reflex\"} 0"}) {
    EXPECT_NE(metrics.find(line), std::string::npos) << line << " in\n" << metrics;
  }
}

TEST_F(ReflexdTest, ServesGrpcHealthAndReflectionListingItsServices) {
  Reflexd daemon({}, local_ports({"REFLEX_STREAMS=" + stream}));
  ASSERT_TRUE(daemon.started()) << daemon.err();
  auto channel = reflex::rgrpc::make_channel({.target = daemon.grpc()});
  EXPECT_EQ(rgrpc_test::health_check(channel, ""), 1);
  EXPECT_EQ(rgrpc_test::health_check(channel, "reflexpb.Reflex"), 1);
  const auto listing = reflection_list(channel);
  EXPECT_NE(listing.find("reflexpb.Reflex"), std::string::npos) << listing;
  EXPECT_NE(listing.find("grpc.health.v1.Health"), std::string::npos) << listing;
}

TEST_F(ReflexdTest, FollowsASqliteOutboxForAReflexctlTail) {
  publish(1);
  Reflexd daemon({}, local_ports({"REFLEX_STREAMS=" + stream}));
  ASSERT_TRUE(daemon.started()) << daemon.err();
  reflexctl_test::Background tail({"tail", "grpc://" + daemon.grpc()});
  EXPECT_FALSE(tail.wait_for_out(R"("foreign_id":"f1")").empty()) << tail.err();
  publish(2);  // f1 and f2 again: ids 2 and 3, followed live
  EXPECT_FALSE(tail.wait_for_out(R"("id":"3")").empty()) << tail.out() << tail.err();
  tail.signal(SIGTERM);
  EXPECT_EQ(tail.wait(10s), 0) << tail.err();
}

TEST_F(ReflexdTest, SigtermDrainsAnOpenStreamAndExitsZeroWithinTheDeadline) {
  publish(1);
  Reflexd daemon({"--drain-timeout", "2s"}, local_ports({"REFLEX_STREAMS=" + stream}));
  ASSERT_TRUE(daemon.started()) << daemon.err();
  auto events = reflex::rgrpc::stream_func({.target = daemon.grpc()});
  auto client = events({}, "", {});
  EXPECT_EQ(client->recv().foreign_id, "f1");
  // The stream is open and idle: recv() waits for the next event until the drain ends it.
  auto ended = std::async(std::launch::async, [&] {
    try {
      (void)client->recv();
      return std::string("an event");
    } catch (const reflex::Stopped&) {
      return std::string("Stopped");
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
  });
  const auto start = std::chrono::steady_clock::now();
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(5s), 0) << daemon.err();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  ASSERT_EQ(ended.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(ended.get(), "Stopped");
  EXPECT_NE(daemon.err().find("\"msg\":\"draining\""), std::string::npos) << daemon.err();
}

TEST_F(ReflexdTest, LogsOneJsonObjectPerLineOrHumanLinesInDevelopment) {
  {
    Reflexd daemon({}, local_ports({"REFLEX_STREAMS=" + stream}));
    ASSERT_TRUE(daemon.started()) << daemon.err();
    daemon.signal(SIGTERM);
    ASSERT_EQ(daemon.wait(10s), 0) << daemon.err();
    const auto lines = reflex_test::lines(daemon.err());
    ASSERT_GE(lines.size(), 3u) << daemon.err();  // serving, draining, stopped
    for (const auto& line : lines) {
      const auto json = nlohmann::json::parse(line, nullptr, false);
      ASSERT_FALSE(json.is_discarded()) << line;
      EXPECT_TRUE(json.contains("ts") && json.contains("level") && json.contains("msg")) << line;
    }
    const auto serving = nlohmann::json::parse(lines.front());
    EXPECT_EQ(serving["msg"], "reflexd serving");
    EXPECT_EQ(serving["streams"], "orders");
    EXPECT_EQ(serving["services"], "reflexpb");
  }
  {
    Reflexd daemon({}, local_ports({"REFLEX_STREAMS=" + stream, "DEVELOPMENT=true"}));
    EXPECT_FALSE(daemon.wait_for_err(R"(info reflexd serving grpc=127\.0\.0\.1:)").empty())
        << daemon.err();
    EXPECT_EQ(daemon.err().find('{'), std::string::npos) << daemon.err();
  }
}

TEST(ReflexdNats, ReadyzIsNotReadyWhileNatsIsDownAndReadyWhenItIsBack) {
  reflex_test::OwnServices nats("nats");
  const std::string url = nats.env("REFLEX_TEST_NATS_URL");
  Reflexd daemon({}, local_ports({"NATS_URL=" + url}));
  ASSERT_TRUE(daemon.started()) << daemon.err();
  const int http = daemon.http_port();
  EXPECT_TRUE(reflex_test::eventually([&] { return http_get(http, "/readyz").status == 200; }, 5s))
      << http_get(http, "/readyz").body;
  EXPECT_NE(http_get(http, "/metrics").body.find("reflexd_nats_connected 1"), std::string::npos);

  nats.stop();
  reflexctl_test::HttpReply reply;
  EXPECT_TRUE(reflex_test::eventually(
      [&] {
        reply = http_get(http, "/readyz");
        return reply.status == 503;
      },
      5s));
  EXPECT_NE(reply.body.find("nats: "), std::string::npos) << reply.body;
  EXPECT_EQ(http_get(http, "/healthz").status, 200);  // alive all along

  nats.start();
  EXPECT_TRUE(reflex_test::eventually([&] { return http_get(http, "/readyz").status == 200; }, 10s))
      << http_get(http, "/readyz").body;
  // Logged once each way, by the loop that reads readiness every second.
  EXPECT_FALSE(daemon.wait_for_err(R"("msg":"ready again","backend":"nats")", 5s).empty())
      << daemon.err();
  EXPECT_NE(daemon.err().find(R"("msg":"not ready","backend":"nats")"), std::string::npos);
}

}  // namespace
