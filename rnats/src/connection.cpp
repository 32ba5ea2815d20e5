#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "connection_state.hpp"
#include "reflex/errors.hpp"
#include "reflex/uri.hpp"
#include "status.hpp"

namespace reflex::rnats {

namespace detail {

jsOptions ConnectionState::js_options() const {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = options.request_timeout.count();
  return o;
}

JsCtxPtr ConnectionState::new_js(jsOptions& o) const {
  jsCtx* js = nullptr;
  check(natsConnection_JetStream(&js, nc.get(), &o), "create a JetStream context");
  return JsCtxPtr(js);
}

}  // namespace detail

namespace {

struct Server {
  std::string address;  // nats://host:port for nats.c
  std::string user;
  std::optional<std::string> password;
  bool tls = false;
};

std::vector<Server> parse_servers(std::string_view url) {
  std::vector<Server> servers;
  while (!url.empty()) {
    const auto comma = url.find(',');
    std::string_view one = url.substr(0, comma);
    url = comma == std::string_view::npos ? std::string_view{} : url.substr(comma + 1);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
    if (one.empty()) continue;
    const Uri uri = parse_uri(one);
    if (uri.scheme != "nats" && uri.scheme != "tls") {
      throw ConfigError("NATS URL \"" + uri.redacted() + "\": scheme must be nats:// or tls://");
    }
    if (uri.host.empty()) {
      throw ConfigError("NATS URL \"" + uri.redacted() + "\" has no host (nats://HOST:PORT)");
    }
    if (!uri.path.empty() && uri.path != "/") {
      throw ConfigError("NATS URL \"" + uri.redacted() + "\" must not have a path");
    }
    const bool v6 = uri.host.find(':') != std::string::npos;
    Server server;
    server.tls = uri.scheme == "tls";
    server.address = std::string(server.tls ? "tls://" : "nats://") + (v6 ? "[" : "") + uri.host +
                     (v6 ? "]" : "") + ":" + std::to_string(uri.port.value_or(4222));
    server.user = uri.user;
    server.password = uri.password;
    servers.push_back(std::move(server));
  }
  if (servers.empty()) {
    throw ConfigError("NATS URL is empty: set ConnectOptions.url to nats://HOST:PORT");
  }
  return servers;
}

std::string redact(std::string_view url) {
  std::string out;
  while (!url.empty()) {
    const auto comma = url.find(',');
    if (!out.empty()) out += ',';
    out += parse_uri(url.substr(0, comma)).redacted();
    url = comma == std::string_view::npos ? std::string_view{} : url.substr(comma + 1);
  }
  return out;
}

// Exponential backoff with jitter. nats.c calls this from its reconnect thread, which may outlive
// our objects briefly after close, so the closure carries the two delays by value (packed into
// the pointer) instead of pointing at anything.
int64_t reconnect_delay(natsConnection*, int attempts, void* closure) {
  const auto packed = reinterpret_cast<std::uintptr_t>(closure);
  const auto base = static_cast<int64_t>(packed >> 32);
  const auto cap = static_cast<int64_t>(packed & 0xffffffffu);
  int64_t delay = base;
  for (int i = 1; i < attempts && delay < cap; ++i) delay *= 2;
  delay = std::min(delay, cap);
  thread_local std::minstd_rand rng{std::random_device{}()};
  const int64_t jitter = delay / 5;
  return delay +
         (jitter > 0 ? static_cast<int64_t>(rng() % static_cast<std::uint64_t>(jitter)) : 0);
}

void check_options(const ConnectOptions& o) {
  using std::chrono::milliseconds;
  if (o.connect_timeout <= milliseconds::zero()) {
    throw ConfigError("ConnectOptions.connect_timeout must be positive");
  }
  if (o.request_timeout <= milliseconds::zero()) {
    throw ConfigError("ConnectOptions.request_timeout must be positive");
  }
  if (o.reconnect_wait <= milliseconds::zero() || o.max_reconnect_wait < o.reconnect_wait ||
      o.max_reconnect_wait.count() > 0xffffffffLL) {
    throw ConfigError(
        "ConnectOptions: reconnect_wait must be positive and max_reconnect_wait at least "
        "reconnect_wait (and under 49 days)");
  }
}

}  // namespace

Connection::Connection(std::string_view url)
    : Connection(ConnectOptions{.url = std::string(url)}) {}

Connection::Connection(const ConnectOptions& options) {
  check_options(options);
  const std::vector<Server> servers = parse_servers(options.url);
  auto state = std::make_shared<detail::ConnectionState>();
  state->options = options;
  state->redacted_url = redact(options.url);
  const std::string& shown = state->redacted_url;

  natsOptions* raw = nullptr;
  detail::check(natsOptions_Create(&raw), "create NATS options");
  detail::OptionsPtr opts(raw);
  std::vector<const char*> addresses;
  for (const auto& s : servers) addresses.push_back(s.address.c_str());
  auto setup = [&](natsStatus s, std::string_view what) {
    if (s != NATS_OK)
      detail::throw_status(s, "NATS options for " + shown + ": " + std::string(what));
  };
  setup(natsOptions_SetServers(opts.get(), addresses.data(), static_cast<int>(addresses.size())),
        "servers");
  setup(natsOptions_SetNoRandomize(opts.get(), servers.size() > 1 ? false : true), "randomize");
  const Server& first = servers.front();
  if (!first.user.empty() && first.password) {
    setup(natsOptions_SetUserInfo(opts.get(), first.user.c_str(), first.password->c_str()), "user");
  } else if (!first.user.empty()) {
    setup(natsOptions_SetToken(opts.get(), first.user.c_str()), "token");
  }
  if (first.tls) setup(natsOptions_SetSecure(opts.get(), true), "tls");
  if (!options.name.empty()) setup(natsOptions_SetName(opts.get(), options.name.c_str()), "name");
  setup(natsOptions_SetTimeout(opts.get(), options.connect_timeout.count()), "timeout");
  setup(natsOptions_SetAllowReconnect(opts.get(), true), "reconnect");
  setup(natsOptions_SetMaxReconnect(opts.get(), options.max_reconnects), "max reconnect");
  const auto packed = (static_cast<std::uintptr_t>(options.reconnect_wait.count()) << 32) |
                      static_cast<std::uintptr_t>(options.max_reconnect_wait.count());
  setup(natsOptions_SetCustomReconnectDelay(opts.get(), reconnect_delay,
                                            reinterpret_cast<void*>(packed)),
        "reconnect delay");
  // Requests made while disconnected fail at once instead of waiting out their timeout.
  setup(natsOptions_SetFailRequestsOnDisconnect(opts.get(), true), "fail requests");
  if (options.retry_on_failed_connect) {
    setup(natsOptions_SetRetryOnFailedConnect(opts.get(), true, nullptr, nullptr), "retry");
  }

  natsConnection* nc = nullptr;
  const natsStatus s = natsConnection_Connect(&nc, opts.get());
  if (s == NATS_NOT_YET_CONNECTED && options.retry_on_failed_connect) {
    // Connected later in the background.
  } else if (s != NATS_OK) {
    if (nc != nullptr) natsConnection_Destroy(nc);
    detail::throw_status(s, "connect to NATS at " + shown);
  }
  state->nc.reset(nc);
  jsOptions jo = state->js_options();
  state->js = state->new_js(jo);
  state_ = std::move(state);
}

bool Connection::connected() const {
  return natsConnection_Status(state_->nc.get()) == NATS_CONN_STATUS_CONNECTED;
}

std::string Connection::connected_url() const {
  char buffer[512] = {};
  if (natsConnection_GetConnectedUrl(state_->nc.get(), buffer, sizeof buffer) != NATS_OK) return {};
  return buffer;
}

std::uint64_t Connection::reconnects() const {
  natsStatistics* stats = nullptr;
  if (natsStatistics_Create(&stats) != NATS_OK) return 0;
  uint64_t count = 0;
  if (natsConnection_GetStats(state_->nc.get(), stats) == NATS_OK) {
    natsStatistics_GetCounts(stats, nullptr, nullptr, nullptr, nullptr, &count);
  }
  natsStatistics_Destroy(stats);
  return count;
}

const std::string& Connection::url() const noexcept {
  return state_->redacted_url;
}

void Connection::flush(std::chrono::milliseconds timeout) {
  detail::check(natsConnection_FlushTimeout(state_->nc.get(), timeout.count()),
                "flush the NATS connection to " + state_->redacted_url);
}

void Connection::close() {
  natsConnection_Close(state_->nc.get());
}

}  // namespace reflex::rnats
