// serve's configuration and the pieces it opens (see serve_config.hpp).

#include "serve_config.hpp"

#include <charconv>
#include <set>

#include "reflex/errors.hpp"
#include "reflex/rgrpc/client.hpp"
#include "sources.hpp"

namespace reflex_tools {

std::string ListenAddress::str() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

ListenAddress parse_listen_address(std::string_view text, std::string_view what) {
  const std::string shown = std::string(what) + " \"" + std::string(text) + "\"";
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    throw reflex::ConfigError(shown +
                              " is not HOST:PORT (e.g. 127.0.0.1:9090; :0 picks a free port)");
  }
  ListenAddress address;
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    throw reflex::ConfigError(shown + ": an IPv6 address needs brackets, e.g. [::1]:9090");
  }
  address.host = std::string(host);
  const std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    throw reflex::ConfigError(shown +
                              ": the port must be a number from 1 to 65535 (or 0 for "
                              "any free port)");
  }
  address.port = static_cast<std::uint16_t>(value);
  return address;
}

NamedSource parse_named_source(std::string_view spec) {
  const auto eq = spec.find('=');
  const std::string_view name = spec.substr(0, eq);
  const bool valid =
      eq != std::string_view::npos && !name.empty() &&
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
          std::string_view::npos;
  if (!valid) {
    throw reflex::ConfigError(
        "a stream is NAME=SOURCE with NAME of letters, digits, '_', '.' or '-' (got '" +
        std::string(spec) + "')");
  }
  return {.name = std::string(name), .uri = std::string(spec.substr(eq + 1))};
}

void validate(const ServeConfig& config) {
  if (config.streams.empty()) throw reflex::ConfigError("no stream to serve: give at least one");
  std::set<std::string> names;
  for (const auto& stream : config.streams) {
    if (!names.insert(stream.name).second)
      throw reflex::ConfigError("stream '" + stream.name + "' is given twice");
  }
  if (config.tls_cert.empty() != config.tls_key.empty())
    throw reflex::ConfigError("TLS needs both a certificate and a key file");
}

reflex::rgrpc::Endpoint open_endpoint(const std::vector<NamedSource>& streams,
                                      std::shared_ptr<reflex::MetricsObserver> metrics) {
  reflex::rgrpc::Endpoint endpoint;
  for (const auto& [name, uri] : streams) {
    auto stream = open_source(uri, metrics);
    if (!endpoint.stream) endpoint.stream = stream;
    endpoint.named.emplace(name, std::move(stream));
  }
  return endpoint;
}

std::vector<std::pair<std::string, reflex::StreamFunc>> open_probes(
    const std::vector<NamedSource>& streams) {
  std::vector<std::pair<std::string, reflex::StreamFunc>> probes;
  for (const auto& [name, uri] : streams) probes.emplace_back(name, open_source(uri));
  return probes;
}

reflex::rgrpc::ServerOptions server_options(const ServeConfig& config) {
  // gRPC takes no ":PORT": every interface is said as 0.0.0.0 (as the HTTP server does).
  ListenAddress listen = config.listen;
  if (listen.host.empty()) listen.host = "0.0.0.0";
  reflex::rgrpc::ServerOptions options{.listen = listen.str()};
  if (!config.tls_cert.empty())
    options.tls = reflex::rgrpc::ServerTls::from_files(config.tls_cert, config.tls_key);
  if (!config.token_file.empty()) options.token = reflex::rgrpc::read_token_file(config.token_file);
  return options;
}

}  // namespace reflex_tools
