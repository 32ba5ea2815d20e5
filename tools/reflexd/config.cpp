// reflexd's settings checked (see config.hpp).

#include "config.hpp"

#include <charconv>
#include <sstream>

#include "durations.hpp"
#include "errors.hpp"
#include "reflex/uri.hpp"
#include "sources.hpp"

namespace reflexd {
namespace {

using reflex_tools::UsageError;

/// "--grpc-port (GRPC_PORT)": how messages name a setting, whichever way it came.
std::string named(std::string_view flag, std::string_view variable) {
  return std::string(flag) + " (" + std::string(variable) + ")";
}

std::uint64_t parse_number(std::string_view what, const std::string& text, std::uint64_t min,
                           std::uint64_t max) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min ||
      value > max) {
    throw UsageError(std::string(what) + " must be a whole number from " + std::to_string(min) +
                     " to " + std::to_string(max) + " (got '" + text + "')");
  }
  return value;
}

/// Every interface on `port` (windshift-server's GRPC_PORT and HEALTH_PORT).
reflex_tools::ListenAddress any_interface(std::string_view what, const std::string& port) {
  return {.host = "", .port = static_cast<std::uint16_t>(parse_number(what, port, 1, 65535))};
}

reflex_tools::ListenAddress address(std::string_view what, const std::string& text) {
  try {
    return reflex_tools::parse_listen_address(text, what);
  } catch (const reflex::ConfigError& e) {
    throw UsageError(e.what());
  }
}

/// Go's strconv.ParseBool, which windshift-server reads DEVELOPMENT with.
bool parse_bool(std::string_view what, const std::string& text) {
  for (const char* yes : {"1", "t", "T", "true", "TRUE", "True"}) {
    if (text == yes) return true;
  }
  for (const char* no : {"0", "f", "F", "false", "FALSE", "False", ""}) {
    if (text == no) return false;
  }
  throw UsageError(std::string(what) + " must be true or false (got '" + text + "')");
}

/// NATS_URL as nats.c takes it: nats:// or tls:// servers, comma-separated, each with a host.
std::string nats_url(std::string_view what, const std::string& text) {
  std::string_view rest = text;
  while (true) {
    const auto comma = rest.find(',');
    const std::string server(rest.substr(0, comma));
    reflex::Uri uri;
    try {
      uri = reflex::parse_uri(server);
    } catch (const reflex::ConfigError& e) {
      throw UsageError(std::string(what) + " is not a NATS URL: " + e.what());
    }
    if ((uri.scheme != "nats" && uri.scheme != "tls") || uri.host.empty() || !uri.query.empty() ||
        (!uri.path.empty() && uri.path != "/")) {
      throw UsageError(std::string(what) + " needs nats://HOST[:PORT] or tls://HOST[:PORT], " +
                       "several comma-separated (got '" + reflex_tools::shown(server) + "')");
    }
    if (comma == std::string_view::npos) return text;
    rest.remove_prefix(comma + 1);
  }
}

/// REFLEX_DATABASE: a DSN of a dialect reflex::rsql speaks.
std::string database_dsn(std::string_view what, const std::string& text) {
  reflex::Uri uri;
  try {
    uri = reflex::parse_uri(text);
  } catch (const reflex::ConfigError& e) {
    throw UsageError(std::string(what) + " is not a database DSN: " + e.what());
  }
  for (const char* scheme : {"postgresql", "postgres", "mysql", "mariadb", "sqlite"}) {
    if (uri.scheme == scheme) return text;
  }
  throw UsageError(std::string(what) +
                   " needs postgresql://, mysql:// (mariadb://) or sqlite:// (got '" +
                   reflex_tools::shown(text) + "')");
}

}  // namespace

reflex_tools::ServeConfig Config::serve() const {
  return {.listen = grpc,
          .streams = streams,
          .http = http,
          .tls_cert = tls_cert,
          .tls_key = tls_key,
          .token_file = token_file};
}

Config config_of(const Settings& s) {
  Config config;
  // GRPC_PORT is checked even when REFLEX_LISTEN wins: a bad value is a mistake either way.
  // stategate's STATEGATE_PORT stands in for it when neither --grpc-port nor GRPC_PORT is given.
  const bool stategate_port = !s.grpc_port_given && !s.stategate_port.empty();
  const auto grpc_port = stategate_port
                             ? any_interface("STATEGATE_PORT", s.stategate_port)
                             : any_interface(named("--grpc-port", "GRPC_PORT"), s.grpc_port);
  const bool listen_wins = !s.listen.empty() && (s.listen_flag || !s.grpc_port_flag);
  config.grpc = listen_wins ? address(named("--listen", "REFLEX_LISTEN"), s.listen) : grpc_port;
  const auto health_port = any_interface(named("--health-port", "HEALTH_PORT"), s.health_port);
  const bool http_wins = !s.http.empty() && (s.http_flag || !s.health_port_flag);
  config.http = http_wins ? address(named("--http", "REFLEX_HTTP"), s.http) : health_port;

  for (const auto& entry : s.streams) {
    // REFLEX_STREAMS holds several entries separated by white space (a URI holds none).
    std::istringstream words(entry);
    for (std::string word; words >> word;) {
      try {
        config.streams.push_back(reflex_tools::parse_named_source(word));
      } catch (const reflex::ConfigError& e) {
        throw UsageError(named("--stream", "REFLEX_STREAMS") + ": " + e.what());
      }
    }
  }
  if (!s.nats_url.empty()) config.nats_url = nats_url(named("--nats-url", "NATS_URL"), s.nats_url);
  if (!s.database.empty()) {
    config.database = database_dsn(named("--database", "REFLEX_DATABASE"), s.database);
  }
  if (config.streams.empty() && config.nats_url.empty() && config.database.empty()) {
    throw UsageError(
        "nothing to serve: give NATS_URL (--nats-url) for the windshift and stategate services, "
        "REFLEX_DATABASE (--database) for the stategate services without NATS, and/or "
        "REFLEX_STREAMS (--stream NAME=SOURCE) for reflexpb streams");
  }
  config.publish_async_max_pending =
      parse_number(named("--nats-publish-async-max-pending", "NATS_PUBLISH_ASYNC_MAX_PENDING"),
                   s.publish_async_max_pending, 1, 1'000'000);
  config.development = parse_bool(named("--development", "DEVELOPMENT"), s.development);
  config.auth_disabled =
      parse_bool(named("--auth-disabled", "STATEGATE_AUTH_DISABLED"), s.auth_disabled);
  if (!parse_level(s.log_level, config.log_level)) {
    throw UsageError(named("--log-level", "REFLEX_LOG_LEVEL") +
                     " must be debug, info, warn or error (got '" + s.log_level + "')");
  }
  config.drain_timeout = reflex_tools::parse_duration(
      named("--drain-timeout", "REFLEX_DRAIN_TIMEOUT"), s.drain_timeout, std::chrono::hours(1));
  if (s.tls_cert.empty() != s.tls_key.empty()) {
    throw UsageError("TLS needs both --tls-cert (REFLEX_TLS_CERT) and --tls-key (REFLEX_TLS_KEY)");
  }
  if (!s.jwt_hs256_secret_file.empty() && !s.jwt_rs256_public_key_file.empty()) {
    throw UsageError(
        "give one JWT key: --jwt-hs256-secret-file (REFLEX_JWT_HS256_SECRET_FILE) or "
        "--jwt-rs256-public-key-file (REFLEX_JWT_RS256_PUBLIC_KEY_FILE), not both");
  }
  if ((!s.jwt_issuer.empty() || !s.jwt_audience.empty()) && s.jwt_hs256_secret_file.empty() &&
      s.jwt_rs256_public_key_file.empty()) {
    throw UsageError(
        "--jwt-issuer and --jwt-audience need a JWT key: --jwt-hs256-secret-file or "
        "--jwt-rs256-public-key-file");
  }
  config.jwt_hs256_secret_file = s.jwt_hs256_secret_file;
  config.jwt_rs256_public_key_file = s.jwt_rs256_public_key_file;
  config.jwt_issuer = s.jwt_issuer;
  config.jwt_audience = s.jwt_audience;
  config.cors = {.allow_origins = s.cors_allow_origins,
                 .allow_methods = s.cors_allow_methods,
                 .allow_headers = s.cors_allow_headers};
  config.tls_cert = s.tls_cert;
  config.tls_key = s.tls_key;
  // stategate's TLS files when reflex's are not given.
  if (config.tls_cert.empty()) {
    if (s.stategate_tls_cert.empty() != s.stategate_tls_key.empty()) {
      throw UsageError("TLS needs both STATEGATE_TLS_CERT_FILE and STATEGATE_TLS_KEY_FILE");
    }
    config.tls_cert = s.stategate_tls_cert;
    config.tls_key = s.stategate_tls_key;
  }
  config.token_file = s.token_file;
  try {
    if (!config.streams.empty()) reflex_tools::validate(config.serve());
  } catch (const reflex::ConfigError& e) {
    throw UsageError(e.what());
  }
  return config;
}

}  // namespace reflexd
