// The Grafana dashboard (dashboards/reflex.json) queries only metrics that exist: every metric
// name in its PromQL is found in a real scrape of reflexd (reflexpb streams from SQLite, NATS),
// of `reflexctl relay --http`, or of a consumer reporting through reflex::prometheus.

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <fstream>
#include <regex>
#include <set>

#include "reflex/consumer.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_cursor_store.hpp"
#include "reflex/mem_log.hpp"
#include "reflex/prometheus/metrics.hpp"
#include "reflex/rgrpc/client.hpp"
#include "reflex/run.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/wait.hpp"
#include "reflexd_harness.hpp"

namespace {

using namespace reflexd_test;

/// Every string under `json` whose key is "expr" or "query" or "definition" (PromQL of panels
/// and template variables).
void queries(const nlohmann::json& json, std::vector<std::string>& out) {
  if (json.is_object()) {
    for (const auto& [key, value] : json.items()) {
      if (value.is_string() && (key == "expr" || key == "query" || key == "definition")) {
        out.push_back(value.get<std::string>());
      } else {
        queries(value, out);
      }
    }
  } else if (json.is_array()) {
    for (const auto& item : json) queries(item, out);
  }
}

/// The metric names reflex exports that `promql` reads.
std::set<std::string> metric_names(const std::string& promql) {
  std::set<std::string> names;
  const std::regex name(R"(\b(reflexd?_[a-zA-Z0-9_:]+))");
  for (std::sregex_iterator it(promql.begin(), promql.end(), name), end; it != end; ++it) {
    names.insert((*it)[1]);
  }
  return names;
}

/// The names of the samples in a Prometheus text scrape.
std::set<std::string> sampled(const std::string& scrape) {
  std::set<std::string> names;
  for (const auto& line : reflex_test::lines(scrape)) {
    if (line.empty() || line.starts_with("#")) continue;
    names.insert(line.substr(0, line.find_first_of("{ ")));
  }
  return names;
}

/// What a consumer with the Prometheus adapter exports, serialized as its /metrics would be.
std::string consumer_scrape() {
  auto registry = std::make_shared<prometheus::Registry>();
  auto metrics = std::make_shared<reflex::prometheus::Metrics>(*registry);
  reflex::MemLog log;
  log.append(1, "a");
  auto consumer =
      reflex::make_consumer("dashboard", [](const reflex::Event&) {}, {.metrics = metrics});
  EXPECT_THROW(reflex::run({}, {.stream = log.stream_func(),
                                .cursors = std::make_shared<reflex::MemCursorStore>(),
                                .consumer = consumer,
                                .options = {.to_head = true}}),
               reflex::HeadReached);
  return prometheus::TextSerializer().Serialize(registry->Collect());
}

TEST_F(ReflexdTest, EveryMetricTheDashboardQueriesIsInARealScrape) {
  std::ifstream file(std::string(REFLEX_SOURCE_DIR) + "/dashboards/reflex.json");
  ASSERT_TRUE(file) << "dashboards/reflex.json";
  const auto dashboard = nlohmann::json::parse(file);
  std::vector<std::string> promql;
  queries(dashboard, promql);
  std::set<std::string> wanted;
  for (const auto& q : promql) wanted.merge(metric_names(q));
  ASSERT_GE(wanted.size(), 20u);

  publish(2);
  const std::string nats = reflex_test::required_env("REFLEX_TEST_NATS_URL");
  std::set<std::string> found;

  // reflexd, after one reflexpb call.
  Reflexd daemon({}, {"REFLEX_LISTEN=127.0.0.1:0", "REFLEX_HTTP=127.0.0.1:0",
                      "REFLEX_STREAMS=" + stream, "NATS_URL=" + nats});
  ASSERT_TRUE(daemon.started()) << daemon.err();
  auto client = reflex::rgrpc::stream_func({.target = daemon.grpc()})({}, "", {.to_head = true});
  (void)client->recv();
  (void)client->recv();
  EXPECT_THROW((void)client->recv(), reflex::HeadReached);
  client.reset();
  ASSERT_TRUE(reflex_test::eventually(
      [&] {
        return http_get(daemon.http_port(), "/metrics").body.find("reflex_grpc_requests_total{") !=
               std::string::npos;
      },
      5s));
  found.merge(sampled(http_get(daemon.http_port(), "/metrics").body));

  // reflexctl relay --http, once it relayed the outbox.
  const std::string stream_name = reflex_test::unique_name("DASH");
  reflexctl_test::Background relay(
      {"relay", "sqlite://" + path + "?table=events",
       nats + "?stream=" + stream_name + "&subject=" + stream_name + ".events", "--consumer",
       "dash", "--create-stream", "--http", "127.0.0.1:0"});
  const std::string port = relay.wait_for_err("HTTP on port ([0-9]+)");
  ASSERT_FALSE(port.empty()) << relay.err();
  std::string relay_scrape;
  ASSERT_TRUE(reflex_test::eventually(
      [&] {
        relay_scrape = http_get(std::stoi(port), "/metrics").body;
        return relay_scrape.find("reflex_relay_cursor{relay=\"dash\"} 2") != std::string::npos;
      },
      10s))
      << relay_scrape << relay.err();
  found.merge(sampled(relay_scrape));

  found.merge(sampled(consumer_scrape()));

  for (const auto& name : wanted) {
    EXPECT_TRUE(found.contains(name))
        << "the dashboard queries " << name << ", which no scrape has";
  }
}

}  // namespace
