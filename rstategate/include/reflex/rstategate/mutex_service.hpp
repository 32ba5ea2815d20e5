#pragma once

#include <memory>
#include <string_view>

#include "reflex/rstategate/backends.hpp"
#include "reflex/rstategate/export.hpp"
#include "reflex/rstategate/identity.hpp"

namespace grpc {
class Service;
}  // namespace grpc

namespace reflex::rstategate {

namespace detail {
class MutexServiceImpl;
}  // namespace detail

/// stategate.MutexService on a MutexStore: Lock until `exp` (unset or 0: until unlocked; a time
/// already past is INVALID_ARGUMENT) answers ALREADY_EXISTS while the lock is held and not
/// expired; Unlock answers NOT_FOUND when it is not held. Every call is checked by `identity`
/// (UNAUTHENTICATED) and validated (INVALID_ARGUMENT naming the field) before the store is used.
///
/// Thread-safety: every member from any thread. Lifetime: must outlive the grpc::Server it is
/// registered with; shares the store.
class REFLEX_RSTATEGATE_EXPORT MutexService final {
 public:
  static constexpr std::string_view name = "stategate.MutexService";

  MutexService(std::shared_ptr<MutexStore> store, Identity identity);
  ~MutexService();
  MutexService(const MutexService&) = delete;
  MutexService& operator=(const MutexService&) = delete;

  /// The service to register with grpc::ServerBuilder::RegisterService.
  [[nodiscard]] grpc::Service* service() noexcept;
  /// Refuses further calls with UNAVAILABLE "server shutting down". Idempotent.
  void shutdown();

 private:
  std::unique_ptr<detail::MutexServiceImpl> impl_;
};

}  // namespace reflex::rstategate
