#pragma once
// reflexd's configuration: what the command line and the environment give (Settings, as text),
// and what reflexd runs with once it is checked (Config). windshift-server's variables work as
// they do there (NATS_URL, GRPC_PORT, HEALTH_PORT, NATS_PUBLISH_ASYNC_MAX_PENDING, DEVELOPMENT);
// reflex's own (REFLEX_LISTEN, REFLEX_HTTP, REFLEX_STREAMS, TLS, token) work as they do for
// `reflexctl serve`; stategate's (STATEGATE_PORT, STATEGATE_TLS_CERT_FILE, STATEGATE_TLS_KEY_FILE,
// STATEGATE_AUTH_DISABLED, STATEGATE_CORS_ALLOW_*) where they map. Nothing here knows about CLI11.

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "http.hpp"
#include "log.hpp"
#include "serve_config.hpp"

namespace reflexd {

/// The settings as given, each from its flag or else its environment variable or else its
/// default; checked by config_of().
struct Settings {
  std::string nats_url{};
  std::string grpc_port = "8080";
  std::string health_port = "8088";
  std::string publish_async_max_pending = "256";
  std::string development = "false";
  std::string listen{};
  std::string http{};
  std::vector<std::string> streams{};
  std::string tls_cert{};
  std::string tls_key{};
  std::string token_file{};
  std::string drain_timeout = "10s";
  std::string log_level = "info";
  std::string database{};
  std::string auth_disabled = "false";
  std::string jwt_hs256_secret_file{};
  std::string jwt_rs256_public_key_file{};
  std::string jwt_issuer{};
  std::string jwt_audience{};
  /// stategate's variables for settings reflex names otherwise, used when those are not given:
  /// STATEGATE_PORT for GRPC_PORT, STATEGATE_TLS_CERT_FILE and STATEGATE_TLS_KEY_FILE for
  /// REFLEX_TLS_CERT and REFLEX_TLS_KEY.
  std::string stategate_port{};
  std::string stategate_tls_cert{};
  std::string stategate_tls_key{};
  /// Whether --grpc-port or GRPC_PORT gave the port (else STATEGATE_PORT may).
  bool grpc_port_given = false;
  /// stategate's CORS variables (STATEGATE_CORS_ALLOW_*), comma-separated lists.
  std::string cors_allow_origins = "*";
  std::string cors_allow_methods = "GET,POST,PUT,PATCH,DELETE,OPTIONS";
  std::string cors_allow_headers = "*";

  /// Which of the address settings came as flags: a flag beats any variable, so --grpc-port
  /// beats REFLEX_LISTEN; among variables, REFLEX_LISTEN beats GRPC_PORT (and REFLEX_HTTP
  /// beats HEALTH_PORT), the way --listen beats --grpc-port among flags.
  bool grpc_port_flag = false;
  bool listen_flag = false;
  bool health_port_flag = false;
  bool http_flag = false;
};

/// What reflexd runs with.
struct Config {
  /// The gRPC server's address: REFLEX_LISTEN, else every interface on GRPC_PORT.
  reflex_tools::ListenAddress grpc{};
  /// /healthz, /readyz and /metrics: REFLEX_HTTP, else every interface on HEALTH_PORT.
  reflex_tools::ListenAddress http{};
  /// The reflexpb streams (none: reflexpb is off); the first is the default.
  std::vector<reflex_tools::NamedSource> streams{};
  /// The NATS servers of the windshift services and of stategate's peer, cache and mutex
  /// services (empty: the windshift services are off).
  std::string nats_url{};
  /// The database of stategate's entity and event services, and of its cache and mutex without
  /// NATS (REFLEX_DATABASE; empty: none).
  std::string database{};
  /// JWTs accepted by the stategate services (REFLEX_JWT_*): at most one of the key files.
  std::string jwt_hs256_secret_file{};
  std::string jwt_rs256_public_key_file{};
  std::string jwt_issuer{};
  std::string jwt_audience{};
  /// STATEGATE_AUTH_DISABLED: the stategate services accept every call.
  bool auth_disabled = false;
  std::size_t publish_async_max_pending = 256;
  /// Human-readable logs instead of JSON lines.
  bool development = false;
  Level log_level = Level::info;
  /// How long a drain (SIGTERM, SIGINT) may take before open calls are cut.
  std::chrono::milliseconds drain_timeout{10000};
  std::string tls_cert{};
  std::string tls_key{};
  std::string token_file{};
  /// What a browser page of another origin may call on the HTTP port.
  reflex_tools::HttpCors cors{};

  /// The reflexpb part as `reflexctl serve` takes it (for open_endpoint and server_options).
  [[nodiscard]] reflex_tools::ServeConfig serve() const;
};

/// Checks every setting; throws reflex_tools::UsageError naming the flag and the variable of
/// the first that is wrong (a port outside 1–65535 or no number, a malformed URL or address, a
/// duration without unit, nothing to serve).
[[nodiscard]] Config config_of(const Settings& settings);

}  // namespace reflexd
