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
class CacheServiceImpl;
}  // namespace detail

/// stategate.CacheService on a CacheStore: Set a value (a google.protobuf.Value) until `exp`
/// (unset or 0: never expires; a time already past is INVALID_ARGUMENT), Get it (NOT_FOUND when
/// missing or expired), Del it (missing is no error). Every call is checked by `identity`
/// (UNAUTHENTICATED) and validated (INVALID_ARGUMENT naming the field) before the store is used.
///
/// Thread-safety: every member from any thread. Lifetime: must outlive the grpc::Server it is
/// registered with; shares the store.
class REFLEX_RSTATEGATE_EXPORT CacheService final {
 public:
  static constexpr std::string_view name = "stategate.CacheService";

  CacheService(std::shared_ptr<CacheStore> store, Identity identity);
  ~CacheService();
  CacheService(const CacheService&) = delete;
  CacheService& operator=(const CacheService&) = delete;

  /// The service to register with grpc::ServerBuilder::RegisterService.
  [[nodiscard]] grpc::Service* service() noexcept;
  /// Refuses further calls with UNAVAILABLE "server shutting down". Idempotent.
  void shutdown();

 private:
  std::unique_ptr<detail::CacheServiceImpl> impl_;
};

}  // namespace reflex::rstategate
