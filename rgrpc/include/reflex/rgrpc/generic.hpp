#pragma once

// The generic API: serve a StreamFunc from your own generated gRPC service, open streams through
// your own generated stubs, and convert between reflex and reflexpb types. It includes the
// generated reflexpb headers and gRPC's; server.hpp and client.hpp do not.

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>
#include <grpcpp/support/sync_stream.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "reflex/event.hpp"
#include "reflex/proto/reflex.grpc.pb.h"
#include "reflex/rgrpc/client.hpp"
#include "reflex/rgrpc/export.hpp"
#include "reflex/rgrpc/server.hpp"
#include "reflex/stream.hpp"

namespace reflex::rgrpc {

/// Writes `event` into `out`, overwriting every field (so one message can be reused without
/// reallocating its strings).
REFLEX_RGRPC_EXPORT void to_proto(const Event& event, reflexpb::Event& out);
/// The event a message carries. Throws reflex::Error naming the event when its timestamp is out
/// of the range a time_point holds.
[[nodiscard]] REFLEX_RGRPC_EXPORT Event from_proto(const reflexpb::Event& event);
/// The request a client sends: the cursor and the options (lag only when > 0, as luno/reflex).
[[nodiscard]] REFLEX_RGRPC_EXPORT reflexpb::StreamRequest to_request(std::string_view after,
                                                                     const StreamOptions& options);
/// Options a request carries (a negative lag counts as none).
[[nodiscard]] REFLEX_RGRPC_EXPORT StreamOptions from_proto(const reflexpb::StreamOptions& options);

/// Options of a StreamServer.
struct StreamServerOptions {
  /// When not empty, calls must carry `authorization: Bearer <token>` (constant-time compare).
  std::string token{};
  /// Most streams open at once; more get RESOURCE_EXHAUSTED.
  std::size_t max_streams = 1000;
};

namespace detail {
struct StreamCore;
}  // namespace detail

/// Serves StreamFuncs from methods of your own callback-API services. For a service
///
///   service Users { rpc StreamUsers(reflexpb.StreamRequest) returns (stream reflexpb.Event); }
///
/// implement the generated `Users::CallbackService` as
///
///   grpc::ServerWriteReactor<reflexpb::Event>* StreamUsers(
///       grpc::CallbackServerContext* ctx, const reflexpb::StreamRequest* req) override {
///     return streams_.serve(ctx, *req, users_stream_);
///   }
///
/// (Server does the same for Endpoint method names, without generated code.)
///
/// Thread-safety: every member may be called from any thread. Lifetime: stop() before shutting
/// your grpc::Server down (then open streams end with Stopped rather than CANCELLED); the
/// destructor calls stop(). Open streams keep what they need alive on their own.
class REFLEX_RGRPC_EXPORT StreamServer final {
 public:
  explicit StreamServer(StreamServerOptions options = {});
  ~StreamServer();
  StreamServer(const StreamServer&) = delete;
  StreamServer& operator=(const StreamServer&) = delete;

  /// Starts streaming `stream` on the call and returns its reactor (owned by gRPC; it deletes
  /// itself when the call is done). Refused calls get a reactor that only finishes them.
  [[nodiscard]] grpc::ServerWriteReactor<reflexpb::Event>* serve(
      grpc::CallbackServerContext* context, const reflexpb::StreamRequest& request,
      const StreamFunc& stream);

  /// The same, serving the stream the call names with metadata `reflex-stream` (see
  /// Endpoint::named), or `fallback` when it names none. An unknown name ends the call with
  /// NOT_FOUND, after the token check (names are not disclosed to callers without the token).
  [[nodiscard]] grpc::ServerWriteReactor<reflexpb::Event>* serve(
      grpc::CallbackServerContext* context, const reflexpb::StreamRequest& request,
      const StreamFunc& fallback, const std::map<std::string, StreamFunc, std::less<>>& named);

  /// Refuses new streams, ends open ones with a status clients map to reflex::Stopped, and waits
  /// up to `wait` for their sources to close. Harmless to call again.
  void stop(std::chrono::milliseconds wait = std::chrono::seconds(5));

  [[nodiscard]] StreamStats stats() const;

 private:
  std::shared_ptr<detail::StreamCore> core_;
};

/// Opens a server-streaming call with a request, e.g. a generated stub method bound to its stub.
using StreamOpener = std::function<std::unique_ptr<grpc::ClientReader<reflexpb::Event>>(
    grpc::ClientContext* context, const reflexpb::StreamRequest& request)>;

/// A StreamFunc over any opener (options.method is not used: the opener picks the method).
[[nodiscard]] REFLEX_RGRPC_EXPORT StreamFunc stream_func(StreamOpener open,
                                                         CallOptions options = {});

/// A StreamFunc over a method of a generated stub:
///   stream_func(stub, &mypb::Users::Stub::StreamUsers, {.token = "..."})
template <class Stub>
[[nodiscard]] StreamFunc stream_func(std::shared_ptr<Stub> stub,
                                     std::unique_ptr<grpc::ClientReader<reflexpb::Event>> (
                                         Stub::*method)(grpc::ClientContext*,
                                                        const reflexpb::StreamRequest&),
                                     CallOptions options = {}) {
  return stream_func(
      StreamOpener([stub = std::move(stub), method](grpc::ClientContext* context,
                                                    const reflexpb::StreamRequest& request) {
        return ((*stub).*method)(context, request);
      }),
      std::move(options));
}

}  // namespace reflex::rgrpc
