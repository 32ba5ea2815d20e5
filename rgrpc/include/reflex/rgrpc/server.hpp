#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reflex/rgrpc/export.hpp"
#include "reflex/stream.hpp"

namespace grpc {
class Channel;
class Service;
namespace experimental {
class ServerInterceptorFactoryInterface;
}  // namespace experimental
}  // namespace grpc

namespace reflex::rgrpc {

/// TLS of a server: its certificate chain and private key (PEM text) and, for mutual TLS, the CA
/// that client certificates must be signed by.
struct REFLEX_RGRPC_EXPORT ServerTls {
  std::string cert_chain_pem{};
  std::string private_key_pem{};
  /// When not empty, every client must present a certificate signed by this CA (PEM text).
  std::string client_ca_pem{};

  /// Reads the three PEM files; throws ConfigError naming a file that cannot be read. An empty
  /// `client_ca` path means no client certificates are requested.
  [[nodiscard]] static ServerTls from_files(const std::string& cert_chain,
                                            const std::string& private_key,
                                            const std::string& client_ca = {});
};

/// One event stream served on one gRPC method.
struct Endpoint {
  /// Full method name, "/package.Service/Method". The method is server-streaming with request
  /// `reflexpb.StreamRequest` and response `reflexpb.Event`; no generated code is needed to serve
  /// it. The default is the reflexpb.Reflex service that Go reflex clients call.
  std::string method = "/reflexpb.Reflex/Stream";
  /// Where the events come from: request.after is the cursor, request.options the options.
  /// Calls that name no stream get this one.
  StreamFunc stream{};
  /// Further streams on the same method, picked by the call's metadata `reflex-stream: NAME`
  /// (kStreamMetadataKey; clients set it with ClientOptions::stream or `grpc://…?stream=NAME`).
  /// A name that is not here ends the call with NOT_FOUND (clients: reflex::ConfigError).
  std::map<std::string, StreamFunc, std::less<>> named{};
};

/// The call metadata key that picks one of an endpoint's named streams.
inline constexpr const char* kStreamMetadataKey = "reflex-stream";

/// Counters of the streams a server (or StreamServer) handled.
struct StreamStats {
  /// Streams currently open (each holds one pump thread and one open source stream).
  std::size_t open_streams = 0;
  /// Streams accepted since start.
  std::uint64_t streams_started = 0;
  /// Streams refused: bad or missing token, max_streams reached, or stopping.
  std::uint64_t streams_refused = 0;
  /// Events handed to gRPC and accepted by its transport (flow control holds back the rest).
  std::uint64_t events_sent = 0;
};

/// Options of the ready-made Server.
struct ServerOptions {
  /// Address to listen on; port 0 picks a free port (see Server::port()).
  std::string listen = "127.0.0.1:0";
  /// TLS; plaintext when empty.
  std::optional<ServerTls> tls{};
  /// When not empty, every stream call must carry metadata `authorization: Bearer <token>`
  /// (compared in constant time); others end with UNAUTHENTICATED. Health and reflection stay open.
  std::string token{};
  /// Most streams open at once; each needs a thread while open. Further calls get
  /// RESOURCE_EXHAUSTED (clients see a retryable reflex::Unavailable).
  std::size_t max_streams = 1000;
  /// stop() gives open calls this long to end before gRPC cancels them.
  std::chrono::milliseconds stop_timeout{5000};
  /// Ping idle connections this often, and drop them when a ping is not answered within
  /// keepalive_timeout: a vanished client (no FIN) stops its source within about their sum.
  std::chrono::milliseconds keepalive_time{30000};
  std::chrono::milliseconds keepalive_timeout{10000};
  /// Largest message the server accepts (requests are tiny) and sends (events), in bytes.
  std::size_t max_message_bytes = 64u << 20;
  /// Serve grpc.health.v1.Health (status SERVING per endpoint service until stop()).
  bool health = true;
  /// Serve grpc.reflection.v1alpha.ServerReflection (grpcurl and friends can list and call).
  bool reflection = true;
  /// More services of yours to host on the same port (not owned; they must outlive the Server).
  std::vector<grpc::Service*> services{};
  /// The full names of those services ("package.Service"), which the health service reports
  /// SERVING until stop() like the endpoints' (and set_serving() can change).
  std::vector<std::string> service_names{};
  /// Interceptors of every call (request metrics, logging); shared, so that options stay
  /// copyable.
  std::vector<std::shared_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors{};
  /// Called by stop() once health says NOT_SERVING and gRPC's shutdown has begun (new calls are
  /// refused, clients told with GOAWAY), before the server's own streams end: where the services
  /// of yours end their open streams (their own drain). What it ends, ends the drain at once.
  std::function<void()> on_stop{};
};

/// A ready-made gRPC server serving event streams: listens when constructed, serves each endpoint
/// until stop(). Wire-compatible with luno/reflex: a Go client made with
/// `reflex.WrapStreamPB(reflexpb.NewReflexClient(conn).Stream)` streams from it.
///
/// Each open stream runs its source on a thread of its own (sources block in recv()); writes are
/// flow-controlled, so a client that stops reading holds back its own stream only, with a bounded
/// amount buffered (up to 512 KiB queued by reflex, plus gRPC's HTTP/2 flow-control window of a few
/// MiB) and no effect on others. A client that cancels, misses its deadline or disconnects stops
/// its source promptly through the source's stop token.
///
/// Thread-safety: every member may be called from any thread. Lifetime: the destructor calls
/// stop(); stream functions are copied and live as long as a stream uses them.
class REFLEX_RGRPC_EXPORT Server final {
 public:
  /// Serves `stream` on /reflexpb.Reflex/Stream.
  explicit Server(StreamFunc stream, ServerOptions options = {});
  /// Serves each endpoint on its method. Throws ConfigError for a malformed or duplicate method
  /// name or an empty stream function, or when there is neither an endpoint nor a service of
  /// yours, and Unavailable when the address cannot be bound.
  explicit Server(std::vector<Endpoint> endpoints, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The port listened on (the one picked when options.listen had port 0).
  [[nodiscard]] int port() const noexcept;
  /// "host:port" of the listening socket, for clients on this host ("127.0.0.1:40123").
  [[nodiscard]] std::string address() const;
  /// A channel to this server within the process (grpc::Server::InProcessChannel): no socket
  /// and no TLS, but otherwise a call like any other — the same interceptors, services, token
  /// and metadata checks (a caller passes its `authorization` metadata as a remote one would).
  /// For gateways in the same process (reflexd's REST routes). Calls made after stop() fail.
  [[nodiscard]] std::shared_ptr<grpc::Channel> in_process_channel() const;

  /// Graceful stop: marks health NOT_SERVING, begins gRPC's shutdown (new calls are refused),
  /// runs options.on_stop, ends every open stream with a status clients map to reflex::Stopped
  /// (after what was already queued for it), then waits for the calls still open, cancelling
  /// them after options.stop_timeout. Blocks until done.
  /// Calling it again (or concurrently) is harmless.
  void stop();
  /// Blocks until stop() has shut the server down.
  void wait();
  /// What the health service reports for `service` ("" is the server as a whole): e.g.
  /// NOT_SERVING while a service's backend is unreachable. stop() sets every one NOT_SERVING.
  void set_serving(const std::string& service, bool serving);

  [[nodiscard]] StreamStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace reflex::rgrpc
