// The stategate services on reflex::rstategate (see stategate_services.hpp). Compiled only when
// that module is built; stategate_services_absent.cpp stands in otherwise.

#include "stategate_services.hpp"

#include "reflex/rstategate/rstategate.hpp"

namespace reflexd {
namespace {

namespace rs = reflex::rstategate;

struct Backends {
  std::shared_ptr<rs::PeerHub> peer;
  std::shared_ptr<rs::CacheStore> cache;
  std::shared_ptr<rs::MutexStore> mutex;
  std::string name;
};

Backends backends_of(const StategateOptions& options) {
  if (options.nats) {
    return {.peer = rs::make_nats_peer_hub(*options.nats),
            .cache = rs::make_nats_cache_store(*options.nats),
            .mutex = rs::make_nats_mutex_store(*options.nats),
            .name = "nats"};
  }
  // Without NATS, peer messages stay in this process. The cache and the locks belong in the
  // database (options.database) so that several reflexd share them: the SQL CacheStore and
  // MutexStore plug in here; until they exist, they are this process's too.
  return {.peer = rs::make_memory_peer_hub(),
          .cache = rs::make_memory_cache_store(),
          .mutex = rs::make_memory_mutex_store(),
          .name = "memory"};
}

class Hosted final : public StategateServices {
 public:
  Hosted(Backends backends, const rs::Identity& identity)
      : backend_(std::move(backends.name)),
        peer_(std::move(backends.peer), identity),
        cache_(std::move(backends.cache), identity),
        mutex_(std::move(backends.mutex), identity) {}

  std::vector<grpc::Service*> services() override {
    return {peer_.service(), cache_.service(), mutex_.service()};
  }
  std::vector<std::string> names() const override {
    return {std::string(rs::PeerService::name), std::string(rs::CacheService::name),
            std::string(rs::MutexService::name)};
  }
  std::string backend() const override { return backend_; }
  void shutdown() override {
    peer_.shutdown();
    cache_.shutdown();
    mutex_.shutdown();
  }

 private:
  std::string backend_;
  rs::PeerService peer_;
  rs::CacheService cache_;
  rs::MutexService mutex_;
};

}  // namespace

std::unique_ptr<StategateServices> make_stategate_services(const StategateOptions& options) {
  if (!options.nats && options.database.empty()) return nullptr;
  // The JWT verifier joins the identity here once it exists (rs::IdentityOptions::verifier).
  const rs::Identity identity({.disabled = options.auth_disabled, .token = options.token});
  return std::make_unique<Hosted>(backends_of(options), identity);
}

}  // namespace reflexd
