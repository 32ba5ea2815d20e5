#pragma once
// What reflexd's gRPC callers ask for and how it goes: a server interceptor counting every call
// by service, method and status code, timing it, and gauging the calls in flight, on a caller's
// prometheus::Registry:
//   reflex_grpc_requests_total{service, method, code}
//   reflex_grpc_request_duration_seconds{service, method}   (streams: their lifetime)
//   reflex_grpc_requests_in_flight{service, method}

#include <memory>

namespace grpc::experimental {
class ServerInterceptorFactoryInterface;
}  // namespace grpc::experimental
namespace prometheus {
class Registry;
}  // namespace prometheus

namespace reflexd {

/// The interceptor factory to hand to the gRPC server (rgrpc::ServerOptions::interceptors).
/// Thread-safety: the interceptors it makes may run on any of gRPC's threads at once.
/// Lifetime: `registry` must outlive the server.
[[nodiscard]] std::shared_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
request_metrics(prometheus::Registry& registry);

}  // namespace reflexd
