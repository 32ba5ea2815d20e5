#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "reflex/rnats/export.hpp"

namespace reflex::rnats {

namespace detail {
struct Access;
struct ConnectionState;
}  // namespace detail

/// How to reach NATS and how to behave when the connection drops.
struct ConnectOptions {
  /// `nats://[user[:password]@]host[:port]` (or `tls://...`); several servers of one cluster are
  /// separated by commas. A user without password is sent as a token.
  std::string url{};
  /// Client name shown by the server's monitoring endpoints.
  std::string name{};
  /// How long the first connect (and each reconnect attempt) may take.
  std::chrono::milliseconds connect_timeout{2000};
  /// Delay before the first reconnect round; it doubles per failed round up to
  /// `max_reconnect_wait`, with up to 20% jitter so that many clients do not reconnect in step.
  std::chrono::milliseconds reconnect_wait{100};
  std::chrono::milliseconds max_reconnect_wait{2000};
  /// Reconnect rounds before giving up and closing the connection; -1 retries forever.
  int max_reconnects = -1;
  /// Timeout of JetStream API requests (stream info, consumer create, KV reads, synchronous
  /// publishes). Requests made while disconnected fail at once with Unavailable.
  std::chrono::milliseconds request_timeout{5000};
  /// When the first connect fails: false throws Unavailable; true returns a connection that keeps
  /// trying in the background (requests fail with Unavailable until it is connected).
  bool retry_on_failed_connect = false;
};

/// A connection to NATS with JetStream, reconnecting with backoff after a network failure or a
/// server restart. Everything in reflex::rnats is made from a Connection.
///
/// Thread-safety: a handle; copies share one connection and every member may be called from any
/// thread. Lifetime: the underlying connection closes when the last copy is gone and everything
/// made from it (streams, subscriptions, stores, relays) has been destroyed; `close()` closes it
/// earlier for every user.
class REFLEX_RNATS_EXPORT Connection final {
 public:
  /// Connects (see ConnectOptions). Throws ConfigError for a malformed URL and Unavailable when no
  /// server answers.
  explicit Connection(const ConnectOptions& options);
  /// Shorthand for `Connection(ConnectOptions{.url = url})`.
  explicit Connection(std::string_view url);

  /// True while connected (false while reconnecting or after close).
  [[nodiscard]] bool connected() const;
  /// How many times the connection was re-established since it was opened.
  [[nodiscard]] std::uint64_t reconnects() const;
  /// The URL with any password replaced by "***" (for logs).
  [[nodiscard]] const std::string& url() const noexcept;
  /// The server this connection is connected to now (`nats://host:port`, one of a cluster's
  /// URLs, or one the cluster announced); "" while disconnected.
  [[nodiscard]] std::string connected_url() const;
  /// Sends everything buffered and waits for the server to confirm (a round trip), or throws
  /// Unavailable after `timeout`.
  void flush(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// Closes the connection now for every copy; later requests throw Unavailable.
  void close();

 private:
  friend struct detail::Access;
  explicit Connection(std::shared_ptr<detail::ConnectionState> state) : state_(std::move(state)) {}
  std::shared_ptr<detail::ConnectionState> state_;
};

}  // namespace reflex::rnats
