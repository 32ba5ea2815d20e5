#pragma once
// The stategate services reflexd hosts, from reflex::rstategate: EntityService and EventService
// on the database (REFLEX_DATABASE; their tables created when missing); PeerService,
// CacheService and MutexService on NATS when NATS_URL is given (peer messages over core
// subjects, the cache and the locks in KV buckets created on first use), else with the database
// (peer messages in this process, the cache and the locks in its tables). A build without
// reflex::rstategate has none (stategate_services_absent.cpp).

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
  /// JWTs: one key file (HS256 secret or RS256 public key), empty both: none.
  std::string jwt_hs256_secret_file{};
  std::string jwt_rs256_public_key_file{};
  std::string jwt_issuer{};
  std::string jwt_audience{};
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
  /// The names of those that run on NATS (their health follows it).
  [[nodiscard]] virtual std::vector<std::string> nats_names() const = 0;
  /// What they run on, for the start-up line: "nats", "nats+sql" or "sql".
  [[nodiscard]] virtual std::string backend() const = 0;
  /// Connects to the database and runs a trivial query (for /readyz); false without a database.
  /// Throws what the database threw.
  virtual bool ping_database() const = 0;
  /// Ends every open peer Stream and refuses further calls (the drain's step for these services).
  virtual void shutdown() = 0;
};

/// The stategate services as `options` say; nullptr with neither NATS nor a database, or in a
/// build without reflex::rstategate. Creates the database's tables when missing (Unavailable
/// when it cannot be reached, ConfigError when it refuses); ConfigError for a JWT key file that
/// cannot be read or used.
[[nodiscard]] std::unique_ptr<StategateServices> make_stategate_services(
    const StategateOptions& options);

}  // namespace reflexd
