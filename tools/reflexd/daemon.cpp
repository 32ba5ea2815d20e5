// reflexd's lifecycle (see daemon.hpp): the pieces are in tools/common (reflexpb serving,
// readiness, HTTP), request_metrics, process_metrics, windshift_services and stategate_services;
// this file wires them and runs them in order.

#include "daemon.hpp"

#include <grpcpp/impl/service_type.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "errors.hpp"
#include "gateway.hpp"
#include "http.hpp"
#include "process_metrics.hpp"
#include "readiness.hpp"
#include "reflex/errors.hpp"
#include "reflex/rgrpc/client.hpp"
#include "reflex/rgrpc/server.hpp"
#include "reflex/version.hpp"
#include "reflex/wait.hpp"
#include "request_metrics.hpp"
#include "serve_config.hpp"
#include "serve_metrics.hpp"
#include "signals.hpp"
#include "sources.hpp"
#include "stategate_routes.hpp"
#include "stategate_services.hpp"
#include "windshift_services.hpp"
#if defined(REFLEXD_WITH_PROMETHEUS)
#include "reflex/prometheus/metrics.hpp"
#endif

namespace reflexd {
namespace {

using namespace std::chrono_literals;

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) out += (out.empty() ? "" : ",") + word;
  return out;
}

}  // namespace

int run(const Config& config, Log& log) {
  // First: it outlives every recorder the sources and the interceptor hold.
  auto registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<reflex::MetricsObserver> metrics;
#if defined(REFLEXD_WITH_PROMETHEUS)
  metrics = std::make_shared<reflex::prometheus::Metrics>(*registry);
#endif

  std::vector<std::string> services;
  std::vector<reflex_tools::ReadinessCheck> checks;
  std::vector<reflex::rgrpc::Endpoint> endpoints;
  if (!config.streams.empty()) {
    services.emplace_back("reflexpb");
    endpoints.push_back(reflex_tools::open_endpoint(config.streams, metrics));
    for (auto& [name, stream] : reflex_tools::open_probes(config.streams)) {
      checks.push_back(reflex_tools::source_check("stream " + name, std::move(stream)));
    }
  }

  std::optional<reflex::rnats::Connection> nats;
  std::unique_ptr<WindshiftServices> windshift;
  if (!config.nats_url.empty()) {
    // A NATS that is down at start is an outage like any other: reflexd starts, /readyz says
    // so, and the connection keeps trying.
    nats.emplace(reflex::rnats::ConnectOptions{
        .url = config.nats_url, .name = "reflexd", .retry_on_failed_connect = true});
    checks.push_back(reflex_tools::nats_check(*nats));
    windshift = make_windshift_services(
        *nats, {.publish_async_max_pending = config.publish_async_max_pending});
    services.emplace_back(windshift ? "windshift" : "nats");
  }

  // stategate's services: on NATS when it is given, else in-process with a database.
  const std::string token =
      config.token_file.empty() ? std::string() : reflex::rgrpc::read_token_file(config.token_file);
  auto stategate =
      make_stategate_services({.nats = nats,
                               .database = config.database,
                               .auth_disabled = config.auth_disabled,
                               .token = token,
                               .jwt_hs256_secret_file = config.jwt_hs256_secret_file,
                               .jwt_rs256_public_key_file = config.jwt_rs256_public_key_file,
                               .jwt_issuer = config.jwt_issuer,
                               .jwt_audience = config.jwt_audience});
  if (stategate) services.emplace_back("stategate");
  if (stategate && !config.database.empty()) {
    // A connection and a trivial query per probe: the database answers, or /readyz says why not.
    checks.push_back(
        {.name = "database",
         .probe = [&stategate](std::stop_token, std::chrono::milliseconds) -> std::exception_ptr {
           try {
             (void)stategate->ping_database();
             return nullptr;
           } catch (...) {
             return std::current_exception();
           }
         }});
  }

  auto options = reflex_tools::server_options(config.serve());
  options.stop_timeout = config.drain_timeout;
  options.interceptors.push_back(request_metrics(*registry));
  // Names whose health follows NATS's readiness.
  std::vector<std::string> nats_names;
  if (windshift) {
    for (auto* service : windshift->services()) options.services.push_back(service);
    for (auto& name : windshift->names()) nats_names.push_back(name);
  }
  if (stategate) {
    for (auto* service : stategate->services()) options.services.push_back(service);
    for (auto& name : stategate->nats_names()) nats_names.push_back(name);
  }
  options.service_names = nats_names;
  if (stategate) {
    for (auto& name : stategate->names()) {
      if (std::find(nats_names.begin(), nats_names.end(), name) == nats_names.end()) {
        options.service_names.push_back(name);
      }
    }
  }
  options.on_stop = [&windshift, &stategate] {
    if (windshift) windshift->shutdown();
    if (stategate) stategate->shutdown();
  };
  // A server must host something; with NATS only and no windshift services in this build, it
  // hosts health and reflection, over a service with no methods.
  grpc::Service nothing;
  if (endpoints.empty() && options.services.empty()) options.services.push_back(&nothing);

  reflex_tools::SignalStop signals;
  reflex::rgrpc::Server server(std::move(endpoints), options);
  reflex_tools::Readiness readiness(std::move(checks));

  std::vector<std::shared_ptr<const prometheus::Collectable>> collectables{registry};
  if (!config.streams.empty()) {
    collectables.push_back(
        std::make_shared<reflex_tools::ServeMetrics>([&server] { return server.stats(); }));
  }
  ProcessFacts facts{.services = joined(services),
                     .ready = [&readiness] { return readiness.unready().empty(); }};
  if (nats) facts.nats_connected = [&nats] { return nats->connected(); };
  collectables.push_back(std::make_shared<ProcessMetrics>(std::move(facts)));
  // The operator endpoints and stategate's REST routes, which call the services through the
  // server's own in-process channel (the same identity, validation and metrics as gRPC).
  auto routes = reflex_tools::operator_routes(readiness, std::move(collectables));
  auto gateway_stopping = std::make_shared<std::atomic<bool>>(false);
  for (auto& route : gateway_routes(server.in_process_channel(), stategate_routes(),
                                    {.stopping = gateway_stopping})) {
    routes.push_back(std::move(route));
  }
  reflex_tools::HttpServer http(config.http, std::move(routes), {.cors = config.cors});

  if (stategate && !config.auth_disabled && token.empty() && config.jwt_hs256_secret_file.empty() &&
      config.jwt_rs256_public_key_file.empty()) {
    log.warn(
        "the stategate services refuse every call: give REFLEX_TOKEN_FILE (--token-file) for a "
        "bearer token, a JWT key (--jwt-hs256-secret-file or --jwt-rs256-public-key-file), or "
        "STATEGATE_AUTH_DISABLED=true (--auth-disabled)");
  }

  std::string streams;
  for (const auto& stream : config.streams) streams += (streams.empty() ? "" : ",") + stream.name;
  log.info("reflexd serving", {{"grpc", server.address()},
                               {"http_port", http.port()},
                               {"services", joined(services)},
                               {"streams", streams},
                               {"nats", nats ? nats->url() : std::string()},
                               {"stategate", stategate ? stategate->backend() : std::string()},
                               {"version", reflex::version_string}});
  if (nats && !windshift) {
    log.warn(
        "this reflexd was built without reflex::rwindshift: NATS_URL is connected and checked "
        "for /readyz, but no windshift services are served");
  }

  // Health follows readiness: the services on NATS are NOT_SERVING while NATS does not
  // answer. An unready backend is logged when it goes down and when it is back, not every poll.
  std::set<std::string> down;
  while (!signals.token().stop_requested()) {
    std::set<std::string> now;
    for (const auto& [name, why] : readiness.unready(signals.token())) {
      if (signals.token().stop_requested()) break;
      now.insert(name);
      if (!down.contains(name)) log.warn("not ready", {{"backend", name}, {"error", why}});
    }
    for (const auto& name : down) {
      if (!now.contains(name)) log.info("ready again", {{"backend", name}});
    }
    const bool nats_up = !now.contains("nats");
    for (const auto& name : nats_names) server.set_serving(name, nats_up);
    down = std::move(now);
    (void)reflex::sleep_for(signals.token(), 1s);
  }

  log.info("draining", {{"timeout_ms", config.drain_timeout.count()}});
  // REST requests from now on answer 503 rather than reach a stopping server (open event
  // streams end with the drain, as gRPC ones do).
  gateway_stopping->store(true);
  server.stop();
  const auto stats = server.stats();
  log.info("stopped",
           {{"streams_served", stats.streams_started}, {"events_sent", stats.events_sent}});
  return 0;
}

}  // namespace reflexd
