#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "reflex/rgrpc/errors.hpp"
#include "reflex/rgrpc/export.hpp"
#include "reflex/stream.hpp"

namespace grpc {
class Channel;
}  // namespace grpc

namespace reflex::rgrpc {

/// TLS of a client connection (PEM text).
struct REFLEX_RGRPC_EXPORT ClientTls {
  /// CA that signed the server's certificate; empty means the system's trusted roots.
  std::string root_ca_pem{};
  /// Client certificate and key, for servers that require mutual TLS; empty for none.
  std::string cert_chain_pem{};
  std::string private_key_pem{};
  /// Name to check the server certificate against instead of the target's host (for example when
  /// connecting by IP address to a certificate issued for a name). Empty: the target's host.
  std::string server_name{};

  /// Reads the PEM files (empty path: field left empty); throws ConfigError naming a file that
  /// cannot be read.
  [[nodiscard]] static ClientTls from_files(const std::string& root_ca,
                                            const std::string& cert_chain = {},
                                            const std::string& private_key = {});
};

/// Per-call settings of a remote stream.
struct CallOptions {
  /// Full method name, "/package.Service/Method" (server-streaming, reflexpb.StreamRequest in,
  /// reflexpb.Event out). Ignored when the stream is opened through a generated stub.
  std::string method = "/reflexpb.Reflex/Stream";
  /// Sent as metadata `authorization: Bearer <token>` when not empty.
  std::string token{};
  /// Sent as metadata `reflex-stream: <stream>` when not empty: picks one of the streams a server
  /// serves on the method (Endpoint::named).
  std::string stream{};
  /// Wait for the server to become reachable instead of failing fast with Unavailable.
  bool wait_for_ready = false;
};

/// A connection to a server of event streams.
struct ClientOptions {
  /// gRPC target: "host:port", "dns:///host:port", "unix:///path", ...
  std::string target{};
  std::string method = "/reflexpb.Reflex/Stream";
  std::string token{};
  /// Names one of the server's streams on the method (see CallOptions::stream).
  std::string stream{};
  /// TLS; plaintext when empty.
  std::optional<ClientTls> tls{};
  /// Ping the server when the connection is idle this long; a dead connection is noticed within
  /// keepalive_time + keepalive_timeout and the stream fails with Unavailable. Servers reject
  /// pings more frequent than they allow (reflex servers allow 10 s).
  std::chrono::milliseconds keepalive_time{30000};
  std::chrono::milliseconds keepalive_timeout{10000};
  bool wait_for_ready = false;
  /// Largest event message accepted, in bytes.
  std::size_t max_message_bytes = 64u << 20;
};

/// A channel with the options' TLS, keepalive and message size. Connects lazily; share it between
/// streams (one HTTP/2 connection carries them all).
[[nodiscard]] REFLEX_RGRPC_EXPORT std::shared_ptr<grpc::Channel> make_channel(
    const ClientOptions& options);

/// Streams from a remote server as a StreamFunc (one channel shared by every stream it opens).
/// `after` and the options go to the server (lag only when > 0). recv() maps the call's end
/// status to reflex errors: reflex::Stopped (server going away: reconnect), HeadReached (to_head
/// done), Canceled (this stream's stop token; the call is cancelled at once), Unavailable
/// (UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED, DEADLINE_EXCEEDED, unexpected CANCELLED:
/// retryable), AuthError (UNAUTHENTICATED, PERMISSION_DENIED), CursorError (INVALID_ARGUMENT),
/// ConfigError (UNIMPLEMENTED: wrong method; NOT_FOUND: no stream of that name), Stopped (OK: a
/// reflex stream never ends by itself), RemoteError (anything else; DATA_LOSS when the server met
/// an event it cannot send). Statuses from Go reflex servers (luno/jettison error details) map
/// the same way; their bad-cursor errors are CursorError too (rsql's ErrInvalidIntID by its
/// jettison code at any status, or by its text; rblob's by text). A message that is not a
/// well-formed reflexpb.Event (a string field that is not UTF-8) is a non-retryable Error naming
/// the event, and the call is cancelled. A lag out of range (check_stream_options) is a
/// ConfigError before anything is sent.
[[nodiscard]] REFLEX_RGRPC_EXPORT StreamFunc stream_func(const ClientOptions& options);

/// The same on a channel of yours.
[[nodiscard]] REFLEX_RGRPC_EXPORT StreamFunc stream_func(std::shared_ptr<grpc::Channel> channel,
                                                         CallOptions options = {});

/// The bearer token kept in a file (surrounding whitespace and a trailing newline dropped), for
/// clients (`?token_file=`) and servers (ServerOptions::token) alike. Throws ConfigError naming
/// the file when it cannot be read or holds only whitespace.
[[nodiscard]] REFLEX_RGRPC_EXPORT std::string read_token_file(const std::string& path);

/// Client options from a URI: `grpc://host:port` (plaintext) or `grpcs://host:port` (TLS, system
/// roots unless `?ca=FILE`; `&cert=FILE&key=FILE` for mutual TLS; `&server_name=NAME`). The token,
/// if any, is the URI's password, `grpc://:TOKEN@host:port`, so it is redacted in messages.
/// `?method=/pkg.Service/Method` picks another method, `?stream=NAME` one of its named streams;
/// `?token_file=PATH` reads the token from a file (surrounding whitespace dropped), so it stays
/// out of process listings. Throws ConfigError for anything else.
[[nodiscard]] REFLEX_RGRPC_EXPORT ClientOptions client_options_from_uri(std::string_view uri);

}  // namespace reflex::rgrpc
