#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>

#include "reflex/rnats/connection.hpp"
#include "reflex/rnats/streams.hpp"
#include "reflex/rwindshift/export.hpp"

namespace grpc {
class Service;
}  // namespace grpc

namespace reflex::rwindshift {

namespace detail {
class StateServiceImpl;
}  // namespace detail

/// How a StateService creates and remembers stores.
struct StateServiceOptions {
  /// Storage of a store that EnsureStore creates (windshift: file).
  rnats::Storage storage = rnats::Storage::file;
  /// Stores whose binding is remembered (one JetStream request saved per call); the oldest is
  /// forgotten beyond it.
  std::size_t cached_stores = 1024;
};

/// windshift.state.v1alpha1.StateService on JetStream KV (rnats::StateStore): EnsureStore, Get,
/// Set (plain, create-only, compare-and-set on the last revision) and Delete (plain or on a
/// revision), with windshift-server's validation and status codes. Values are the Any message's
/// bytes, as windshift stores them, so windshift-server and this service share stores.
///
/// Thread-safety: every member may be called from any thread. Lifetime: must outlive the
/// grpc::Server it is registered with; the connection is shared, not owned.
class REFLEX_RWINDSHIFT_EXPORT StateService final {
 public:
  static constexpr std::string_view name = "windshift.state.v1alpha1.StateService";

  explicit StateService(rnats::Connection nats, StateServiceOptions options = {});
  ~StateService();
  StateService(const StateService&) = delete;
  StateService& operator=(const StateService&) = delete;

  /// The service to register with grpc::ServerBuilder::RegisterService.
  [[nodiscard]] grpc::Service* service() noexcept;

  /// Refuses further calls with UNAVAILABLE "server shutting down". Idempotent.
  void shutdown();

 private:
  std::unique_ptr<detail::StateServiceImpl> impl_;
};

}  // namespace reflex::rwindshift
