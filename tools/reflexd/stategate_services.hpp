#pragma once
// The stategate services reflexd hosts: PeerService, CacheService and MutexService from
// reflex::rstategate, on NATS when NATS_URL is given (peer messages over core subjects, the cache
// and the locks in KV buckets created on first use), else in this process when a database is
// given (REFLEX_DATABASE: the seam where the SQL cache and mutex plug in, and later the entity
// and event services). A build without reflex::rstategate has none
// (stategate_services_absent.cpp).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reflex/rnats/connection.hpp"

namespace grpc {
class Service;
}  // namespace grpc

namespace reflexd {

struct StategateOptions {
  /// NATS_URL's connection; nullopt without NATS.
  std::optional<reflex::rnats::Connection> nats{};
  /// REFLEX_DATABASE's DSN; empty without a database.
  std::string database{};
  /// STATEGATE_AUTH_DISABLED: every call accepted, claims {}.
  bool auth_disabled = false;
  /// The shared bearer token (REFLEX_TOKEN_FILE's); empty: none.
  std::string token{};
};

/// The services, to register with the gRPC server; they must outlive it (or be shut down first).
///
/// Thread-safety: shutdown() from any thread, once the server is draining.
class StategateServices {
 public:
  virtual ~StategateServices() = default;
  /// Not owned; valid while this lives.
  [[nodiscard]] virtual std::vector<grpc::Service*> services() = 0;
  /// The full names ("stategate.PeerService"), in the order of services().
  [[nodiscard]] virtual std::vector<std::string> names() const = 0;
  /// What they run on, for the start-up line: "nats" or "memory".
  [[nodiscard]] virtual std::string backend() const = 0;
  /// Ends every open peer Stream and refuses further calls (the drain's step for these services).
  virtual void shutdown() = 0;
};

/// The stategate services as `options` say: on NATS when it is given, else in-process when a
/// database is given; nullptr with neither, or in a build without reflex::rstategate.
[[nodiscard]] std::unique_ptr<StategateServices> make_stategate_services(
    const StategateOptions& options);

}  // namespace reflexd
