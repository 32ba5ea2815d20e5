// reflexctl serve: serves named streams to peers over gRPC (reflexpb), with the operator
// endpoints /metrics, /healthz and /readyz over HTTP. The pieces are in serve_config, readiness,
// serve_metrics and http; this file is the command line and the lifecycle.

#include <prometheus/registry.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "commands/commands.hpp"
#include "errors.hpp"
#include "http.hpp"
#include "readiness.hpp"
#include "reflex/wait.hpp"
#include "serve_config.hpp"
#include "serve_metrics.hpp"
#include "signals.hpp"
#include "sources.hpp"
#if defined(REFLEXCTL_WITH_PROMETHEUS)
#include "reflex/prometheus/metrics.hpp"
#endif

namespace reflexctl {
namespace {

struct ServeOptions {
  std::string listen;
  std::vector<std::string> streams;
  std::string primary;
  std::string http;
  std::string tls_cert;
  std::string tls_key;
  std::string token_file;
};

ServeConfig config_of(const ServeOptions& o) {
  if (o.listen.empty()) throw UsageError("needs --listen HOST:PORT (or REFLEX_LISTEN)");
  ServeConfig config{.listen = parse_listen_address(o.listen, "--listen")};
  for (const auto& entry : o.streams) {
    // REFLEX_STREAMS holds several entries separated by white space (a URI holds none).
    std::istringstream words(entry);
    for (std::string word; words >> word;) config.streams.push_back(parse_named_source(word));
  }
  if (config.streams.empty())
    throw UsageError("needs at least one --stream NAME=SOURCE (or REFLEX_STREAMS)");
  if (!o.primary.empty()) {
    // Every PostgreSQL stream then reads the standby of that primary.
    for (auto& stream : config.streams) {
      if (stream.uri.starts_with("postgres")) stream.uri = with_primary(stream.uri, o.primary);
    }
  }
  if (!o.http.empty()) config.http = parse_listen_address(o.http, "--http");
  if (o.tls_cert.empty() != o.tls_key.empty())
    throw UsageError("TLS needs both --tls-cert and --tls-key");
  config.tls_cert = o.tls_cert;
  config.tls_key = o.tls_key;
  config.token_file = o.token_file;
  validate(config);
  return config;
}

int serve(const ServeOptions& o) {
  const ServeConfig config = config_of(o);
  // First: it outlives every recorder the sources hold.
  auto registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<reflex::MetricsObserver> metrics;
#if defined(REFLEXCTL_WITH_PROMETHEUS)
  metrics = std::make_shared<reflex::prometheus::Metrics>(*registry);
#endif
  const auto endpoint = open_endpoint(config.streams, metrics);
  const auto options = server_options(config);
  SignalStop signals;
  reflex::rgrpc::Server server({endpoint}, options);
  // Every source is probed at once, concurrently: a missing table or an unreachable server is
  // said at start (below), not left for the first client to find. With --http the probes go on
  // in the background for /readyz.
  Readiness readiness(open_probes(config.streams), {.repeat = config.http.has_value()});

  std::optional<HttpServer> http;  // after what its handlers use
  if (config.http) {
    auto own = std::make_shared<ServeMetrics>([&server] { return server.stats(); });
    http.emplace(*config.http, operator_routes(readiness, {registry, own}));
  }
  std::string names;
  for (const auto& stream : config.streams) names += (names.empty() ? "" : ", ") + stream.name;
  std::fprintf(stderr, "reflexctl serve: gRPC on %s (streams: %s; default %s)%s\n",
               server.address().c_str(), names.c_str(), config.streams.front().name.c_str(),
               http ? (", HTTP on port " + std::to_string(http->port())).c_str() : "");
  std::fflush(stderr);
  // The start-up check never holds the start back: its warnings follow the line above, within
  // the probe timeout.
  std::jthread startup_check([&](std::stop_token stop) {
    for (const auto& [name, why] : readiness.unready(stop)) {
      if (stop.stop_requested()) return;
      std::string uri;
      for (const auto& stream : config.streams) {
        if (stream.name == name) uri = shown(stream.uri);
      }
      print_error("serve", "warning: stream " + name + " (" + uri + ") is not ready: " + why);
    }
  });

  while (reflex::sleep_for(signals.token(), std::chrono::hours(1))) {
  }
  server.stop();
  const auto stats = server.stats();
  std::fprintf(stderr, "reflexctl serve: stopped; %llu streams served, %llu events sent\n",
               static_cast<unsigned long long>(stats.streams_started),
               static_cast<unsigned long long>(stats.events_sent));
  return 0;
}

}  // namespace

Run add_serve(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand(
      "serve", "serve streams to peers over gRPC, with /metrics, /healthz and /readyz");
  cmd->add_option("--listen", o->listen, "gRPC address; :0 picks a free port")
      ->envname("REFLEX_LISTEN")
      ->type_name("HOST:PORT");
  cmd->add_option("--stream", o->streams,
                  "a stream (repeatable; the first is the default; in REFLEX_STREAMS "
                  "separated by spaces or newlines)")
      ->envname("REFLEX_STREAMS")
      ->type_name("NAME=SOURCE");
  cmd->add_option("--primary", o->primary,
                  "the primary of the PostgreSQL standby the SQL streams read (it decides holes "
                  "in the ids)")
      ->envname("REFLEX_PRIMARY")
      ->type_name("DSN");
  cmd->add_option("--http", o->http,
                  "address of /metrics, /healthz and /readyz; :0 picks a free port")
      ->envname("REFLEX_HTTP")
      ->type_name("HOST:PORT");
  cmd->add_option("--tls-cert", o->tls_cert, "the server's certificate chain (PEM)")
      ->envname("REFLEX_TLS_CERT")
      ->type_name("FILE");
  cmd->add_option("--tls-key", o->tls_key, "the server's private key (PEM)")
      ->envname("REFLEX_TLS_KEY")
      ->type_name("FILE");
  cmd->add_option("--token-file", o->token_file,
                  "calls must carry \"authorization: Bearer <the file's token>\"")
      ->envname("REFLEX_TOKEN_FILE")
      ->type_name("FILE");
  cmd->footer(text(R"(
A reflexpb gRPC endpoint (/reflexpb.Reflex/Stream, wire-compatible with Go reflex clients). A
call picks a stream other than the default with the metadata "reflex-stream: NAME" (reflexctl
tail grpc://HOST:PORT?stream=NAME). Ports are 1-65535, or 0 for any free port (the one taken
is printed). Every source is probed at start: one warning line for each that does not answer
(a missing table, an unreachable server), within 2 s; serving starts meanwhile. /healthz
answers at once while the process lives; /readyz answers 503 naming each source that does not
answer (sources are probed in the background every second); /metrics is Prometheus text. Each flag falls back to its environment variable when absent. SIGINT/SIGTERM
drain: open streams end with Stopped, exit 0.)"));
  return [o] { return serve(*o); };
}

}  // namespace reflexctl
