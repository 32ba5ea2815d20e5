// reflexd: the reflex daemon. One gRPC server hosting, each when configured, the reflexpb streams
// of `reflexctl serve`, windshift-server's services on NATS and stategate's peer, cache and mutex
// services (on NATS, or in-process with a database), with /healthz, /readyz and
// /metrics over HTTP. This file is the command line (CLI11: each flag falls back to its
// environment variable); daemon.cpp is the lifecycle. Exit codes: 0 after a drain or --help, 1
// runtime error, 2 usage error.

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "daemon.hpp"
#include "errors.hpp"
#include "library_logs.hpp"
#include "log.hpp"
#include "outages.hpp"
#include "reflex/version.hpp"
#include "signals.hpp"

namespace {

constexpr const char* kFooter = R"(
Each flag falls back to its environment variable, then to its default. windshift-server's
variables work as they do there; REFLEX_LISTEN beats GRPC_PORT and REFLEX_HTTP beats
HEALTH_PORT (a flag beats any variable). stategate's variables stand in where reflex's are
not given: STATEGATE_PORT for GRPC_PORT, STATEGATE_TLS_CERT_FILE and STATEGATE_TLS_KEY_FILE
for REFLEX_TLS_CERT and REFLEX_TLS_KEY. Services: reflexpb streams when REFLEX_STREAMS is
given; windshift's EventsService and StateService when NATS_URL is given; stategate's
EntityService and EventService when REFLEX_DATABASE is given (its tables are created when
missing), and its PeerService, CacheService and MutexService with NATS_URL (peer over NATS
subjects, cache and mutex in KV buckets) or with REFLEX_DATABASE alone (peer in this process,
cache and mutex in the database); at least one. stategate calls must carry
"authorization: Bearer <REFLEX_TOKEN_FILE's token>" or a JWT the REFLEX_JWT_* key verifies
(its claims are recorded in every event) unless STATEGATE_AUTH_DISABLED is true.
HTTP: /healthz answers at once while the process lives; /readyz 503 naming each stream source,
NATS or the database while it does not answer; /metrics Prometheus text; stategate's REST
routes (/api/...) call the gRPC services in proto3 JSON, its stream routes answer Server-Sent
Events. SIGINT/SIGTERM drain: gRPC health NOT_SERVING, open streams end, exit 0 within the
drain timeout.
exit codes: 0 after a drain, 1 runtime error, 2 usage error)";

/// Whether `flag` is on the command line ("--flag VALUE" or "--flag=VALUE"), not only in the
/// environment: CLI11 counts a value from either the same way.
bool given(const std::vector<std::string>& args, std::string_view flag) {
  for (const auto& arg : args) {
    if (arg == "--") return false;
    if (arg == flag ||
        (arg.starts_with(flag) && arg.size() > flag.size() && arg[flag.size()] == '='))
      return true;
  }
  return false;
}

/// The value of environment variable `name` ("" when unset).
std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by one thread (SignalStop); block them before any thread starts.
  reflex_tools::block_stop_signals();
  reflex_tools::quiet_library_logs();
  reflex_tools::set_program_name("reflexd");

  CLI::App app(
      "reflexd — the reflex daemon: reflexpb streams, windshift and stategate services over gRPC",
      "reflexd");
  app.footer(kFooter);
  app.set_version_flag("--version", std::string("reflexd ") + reflex::version_string);
  app.get_formatter()->column_width(40);

  reflexd::Settings s;
  const auto add = [&](const char* flag, std::string& into, const char* env, const char* type,
                       const char* help) {
    return app.add_option(flag, into, help)->envname(env)->type_name(type)->capture_default_str();
  };
  add("--nats-url", s.nats_url, "NATS_URL", "URL",
      "NATS servers (nats:// or tls://, comma-separated); turns the windshift and stategate "
      "services on");
  add("--database", s.database, "REFLEX_DATABASE", "DSN",
      "postgresql://, mysql:// or sqlite:// database: stategate's entity and event services "
      "(and its cache and mutex without NATS)");
  add("--auth-disabled", s.auth_disabled, "STATEGATE_AUTH_DISABLED", "BOOL",
      "stategate's services accept every call, without a token");
  add("--jwt-hs256-secret-file", s.jwt_hs256_secret_file, "REFLEX_JWT_HS256_SECRET_FILE", "FILE",
      "stategate's services accept JWTs signed HS256 with this file's secret (claims recorded)");
  add("--jwt-rs256-public-key-file", s.jwt_rs256_public_key_file,
      "REFLEX_JWT_RS256_PUBLIC_KEY_FILE", "FILE",
      "stategate's services accept JWTs signed RS256 by this PEM public key's holder");
  add("--jwt-issuer", s.jwt_issuer, "REFLEX_JWT_ISSUER", "ISS", "a JWT's iss must be this");
  add("--jwt-audience", s.jwt_audience, "REFLEX_JWT_AUDIENCE", "AUD", "a JWT's aud must name this");
  add("--grpc-port", s.grpc_port, "GRPC_PORT", "PORT", "gRPC port on every interface");
  add("--health-port", s.health_port, "HEALTH_PORT", "PORT",
      "HTTP port of /healthz, /readyz and /metrics, on every interface");
  add("--nats-publish-async-max-pending", s.publish_async_max_pending,
      "NATS_PUBLISH_ASYNC_MAX_PENDING", "N", "publishes awaiting JetStream's ack at once");
  add("--development", s.development, "DEVELOPMENT", "BOOL",
      "human-readable log lines instead of JSON");
  add("--listen", s.listen, "REFLEX_LISTEN", "HOST:PORT",
      "gRPC address, instead of GRPC_PORT; :0 picks a free port");
  add("--http", s.http, "REFLEX_HTTP", "HOST:PORT",
      "HTTP address, instead of HEALTH_PORT; :0 picks a free port");
  app.add_option("--stream", s.streams,
                 "a reflexpb stream (repeatable; the first is the default; in REFLEX_STREAMS "
                 "separated by spaces or newlines)")
      ->envname("REFLEX_STREAMS")
      ->type_name("NAME=SOURCE");
  add("--tls-cert", s.tls_cert, "REFLEX_TLS_CERT", "FILE", "the server's certificate chain (PEM)");
  add("--tls-key", s.tls_key, "REFLEX_TLS_KEY", "FILE", "the server's private key (PEM)");
  add("--token-file", s.token_file, "REFLEX_TOKEN_FILE", "FILE",
      "reflexpb stream and stategate calls must carry \"authorization: Bearer <the file's "
      "token>\"");
  add("--drain-timeout", s.drain_timeout, "REFLEX_DRAIN_TIMEOUT", "DURATION",
      "how long a drain may take before open calls are cut (e.g. 500ms, 10s)");
  add("--log-level", s.log_level, "REFLEX_LOG_LEVEL", "LEVEL", "debug, info, warn or error");
  add("--cors-allow-origins", s.cors_allow_origins, "STATEGATE_CORS_ALLOW_ORIGINS", "LIST",
      "origins whose browser pages may call the HTTP routes (comma-separated, * for any)");
  add("--cors-allow-methods", s.cors_allow_methods, "STATEGATE_CORS_ALLOW_METHODS", "LIST",
      "methods a browser page of another origin may use");
  add("--cors-allow-headers", s.cors_allow_headers, "STATEGATE_CORS_ALLOW_HEADERS", "LIST",
      "request headers a browser page of another origin may send (* for any)");

  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForVersion& e) {
    std::cout << e.what() << '\n';
    return 0;
  } catch (const CLI::ParseError& e) {
    reflex_tools::print_error("", e.what());
    return 2;
  }
  s.grpc_port_flag = given(args, "--grpc-port");
  s.listen_flag = given(args, "--listen");
  s.health_port_flag = given(args, "--health-port");
  s.http_flag = given(args, "--http");
  s.grpc_port_given = s.grpc_port_flag || !env("GRPC_PORT").empty();
  s.stategate_port = env("STATEGATE_PORT");
  s.stategate_tls_cert = env("STATEGATE_TLS_CERT_FILE");
  s.stategate_tls_key = env("STATEGATE_TLS_KEY_FILE");

  reflexd::Config config;
  try {
    config = reflexd::config_of(s);
  } catch (const std::exception& e) {
    reflex_tools::print_error("", e.what());
    return 2;
  }
  reflexd::Log log(config.development, config.log_level);
  try {
    return reflexd::run(config, log);
  } catch (const std::exception& e) {
    log.error(
        "reflexd cannot serve",
        {{"error", reflex_tools::one_line(reflex_tools::describe(std::current_exception()))}});
    return reflex_tools::exit_code_of(e);
  }
}
