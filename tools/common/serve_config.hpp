#pragma once
// What `reflexctl serve` and reflexd host as reflexpb streams, apart from their command lines:
// listen addresses, streams by name, the gRPC server's options. Each builds these pieces from its
// own configuration; nothing here knows about CLI11.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/metrics.hpp"
#include "reflex/rgrpc/server.hpp"

namespace reflex_tools {

/// Where a server listens.
struct ListenAddress {
  /// Host name or address, IPv6 without brackets; "" for every interface.
  std::string host;
  /// 1–65535, or 0 for any free port (the server says which it took).
  std::uint16_t port = 0;

  /// "HOST:PORT", IPv6 in brackets.
  [[nodiscard]] std::string str() const;
};

/// Parses "HOST:PORT", "[IPv6]:PORT" or ":PORT". A port outside 0–65535 (or no number) is a
/// ConfigError naming `what` (e.g. "--listen"); 0 means any free port.
[[nodiscard]] ListenAddress parse_listen_address(std::string_view text, std::string_view what);

/// A source served under a name.
struct NamedSource {
  std::string name;
  std::string uri;
};

/// Parses "NAME=SOURCE"; NAME is letters, digits, '_', '.' or '-'. ConfigError otherwise.
[[nodiscard]] NamedSource parse_named_source(std::string_view spec);

/// Everything `serve` needs, validated.
struct ServeConfig {
  ListenAddress listen{};
  /// The first is the default stream; names are unique.
  std::vector<NamedSource> streams{};
  /// The operator endpoints (/metrics, /healthz, /readyz), when wanted.
  std::optional<ListenAddress> http{};
  /// PEM files of the server's TLS (both or neither).
  std::string tls_cert{};
  std::string tls_key{};
  /// A file holding the bearer token every call must carry (none when empty).
  std::string token_file{};
};

/// Checks what the parts cannot check alone: at least one stream, names given once, TLS files
/// in pairs. Throws ConfigError.
void validate(const ServeConfig& config);

/// The reflexpb endpoint serving each source under its name, the first also as the default.
/// SQL tables report to `metrics` when given. Throws ConfigError for a source it cannot open.
[[nodiscard]] reflex::rgrpc::Endpoint open_endpoint(
    const std::vector<NamedSource>& streams,
    std::shared_ptr<reflex::MetricsObserver> metrics = nullptr);

/// The same sources opened once more, by name, for readiness probes (readiness.hpp): without
/// metrics, so that a probe every second does not count as the served streams' polls.
[[nodiscard]] std::vector<std::pair<std::string, reflex::StreamFunc>> open_probes(
    const std::vector<NamedSource>& streams);

/// The gRPC server's options: the address, TLS from the PEM files, the token from its file.
[[nodiscard]] reflex::rgrpc::ServerOptions server_options(const ServeConfig& config);

}  // namespace reflex_tools
