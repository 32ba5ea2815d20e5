#pragma once
// REST and Server-Sent Events onto gRPC methods (transcoding, as grpc-gateway does for
// stategate): each route builds the method's request message from the path's parameters, the
// query string and the JSON body by protobuf's own proto3 JSON mapping, calls the method through
// a channel to reflexd's own gRPC server (so REST gets the gRPC validation, identity and
// interceptors), and answers its response as proto3 JSON — or, for a server-streaming method,
// each message as one Server-Sent Event.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "http.hpp"

namespace grpc {
class Channel;
}  // namespace grpc

namespace reflexd {

/// One HTTP route onto one gRPC method.
struct GatewayRoute {
  /// "GET", "POST", "PUT", "PATCH" or "DELETE". POST, PUT and PATCH read a JSON body: the
  /// request message in proto3 JSON (grpc-gateway's `body: "*"`).
  std::string http_method{};
  /// The path; each `{name}` segment sets the request's field `name` (dots name nested fields).
  std::string path{};
  /// The method's full name in the generated descriptor pool: "stategate.CacheService.Get".
  std::string rpc{};
};

struct GatewayOptions {
  /// How long a unary call may take (its gRPC deadline); past it, 504.
  std::chrono::milliseconds call_timeout{30000};
  /// How often an idle event stream sends a comment line, so that proxies and browsers keep it.
  std::chrono::milliseconds heartbeat{15000};
  /// How often an event stream looks whether its client left or the server stops.
  std::chrono::milliseconds poll{200};
  /// Messages an event stream holds for a slow client before it stops reading from gRPC.
  std::size_t stream_buffer = 1024;
  /// Set to true before the gRPC server behind the channel stops: requests from then on answer
  /// 503 at once (gRPC 1.51 crashes on a call through the in-process channel of a stopped
  /// server). Null: never.
  std::shared_ptr<const std::atomic<bool>> stopping{};
};

/// The HTTP routes of `routes` over `channel`. Query parameters name fields of the request the
/// same way (`sort.field=name&sort.reverse=true`, by proto or JSON name; repeated fields take
/// repeated parameters); `access_token=T` stands for an `Authorization: Bearer T` header (which
/// a browser's EventSource cannot send). A request's `Authorization` header is passed as the
/// call's `authorization` metadata. A failed call answers the HTTP status of its gRPC code
/// (http_status_of) with the body `{"code": <gRPC code>, "message": "...", "details": []}`; a
/// request that cannot be transcoded (bad JSON, an unknown field or parameter) answers 400 the
/// same way.
///
/// A server-streaming method answers `text/event-stream`: `: open` once the gRPC stream is
/// established, then `data: <proto3 JSON>` per message, written at once; a `: keep-alive`
/// comment when quiet for options.heartbeat; and `event: end` with `data: {"code":…,"message":…}`
/// when the gRPC stream ends (on a drain, UNAVAILABLE). A client that leaves cancels the gRPC
/// stream within options.poll. A call that fails before its stream is established answers an
/// HTTP error as a unary call does.
///
/// Throws reflex::ConfigError for a method that is not in the generated pool or a path
/// parameter that is not a field of its request. Lifetime: the routes share the channel.
[[nodiscard]] std::vector<reflex_tools::HttpRoute> gateway_routes(
    std::shared_ptr<grpc::Channel> channel, const std::vector<GatewayRoute>& routes,
    GatewayOptions options = {});

/// The HTTP status of gRPC status code `code`: OK 200, INVALID_ARGUMENT and OUT_OF_RANGE 400,
/// UNAUTHENTICATED 401, PERMISSION_DENIED 403, NOT_FOUND 404, ALREADY_EXISTS and ABORTED 409,
/// FAILED_PRECONDITION 412, RESOURCE_EXHAUSTED 429, CANCELLED 499, UNIMPLEMENTED 501,
/// UNAVAILABLE 503, DEADLINE_EXCEEDED 504, any other 500.
[[nodiscard]] int http_status_of(int code) noexcept;

}  // namespace reflexd
