#pragma once
// The windshift services reflexd hosts when NATS_URL is given: windshift-server's EventsService
// and StateService from reflex::rwindshift, on one NATS connection. A build without
// reflex::rwindshift has none (windshift_services_absent.cpp): NATS_URL then only connects and
// counts for /readyz.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "reflex/rnats/connection.hpp"

namespace grpc {
class Service;
}  // namespace grpc

namespace reflexd {

struct WindshiftOptions {
  /// NATS_PUBLISH_ASYNC_MAX_PENDING.
  std::size_t publish_async_max_pending = 256;
};

/// The services, to register with the gRPC server; they must outlive it (or be shut down first).
///
/// Thread-safety: shutdown() from any thread, once the server is draining.
class WindshiftServices {
 public:
  virtual ~WindshiftServices() = default;
  /// Not owned; valid while this lives.
  [[nodiscard]] virtual std::vector<grpc::Service*> services() = 0;
  /// The full names ("windshift.events.v1alpha1.EventsService"), in the order of services().
  [[nodiscard]] virtual std::vector<std::string> names() const = 0;
  /// Ends every open Events stream (the drain's step for these services).
  virtual void shutdown() = 0;
};

/// The windshift services on `nats`; nullptr in a build without reflex::rwindshift.
[[nodiscard]] std::unique_ptr<WindshiftServices> make_windshift_services(
    reflex::rnats::Connection nats, const WindshiftOptions& options);

}  // namespace reflexd
