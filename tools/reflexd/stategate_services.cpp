// The stategate services on reflex::rstategate (see stategate_services.hpp). Compiled only when
// that module is built; stategate_services_absent.cpp stands in otherwise.

#include "stategate_services.hpp"

#include "reflex/rsql/database.hpp"
#include "reflex/rstate/schema.hpp"
#include "reflex/rstategate/jwt.hpp"
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

Backends backends_of(const StategateOptions& options,
                     const std::shared_ptr<reflex::rsql::Database>& database) {
  if (options.nats) {
    return {.peer = rs::make_nats_peer_hub(*options.nats),
            .cache = rs::make_nats_cache_store(*options.nats),
            .mutex = rs::make_nats_mutex_store(*options.nats),
            .name = database ? "nats+sql" : "nats"};
  }
  // Without NATS, peer messages stay in this process; the cache and the locks are the
  // database's, shared by every reflexd on it.
  return {.peer = rs::make_memory_peer_hub(),
          .cache = rs::make_sql_cache_store(database),
          .mutex = rs::make_sql_mutex_store(database),
          .name = "sql"};
}

/// The database's tables, created when missing: the entities and their events, and without NATS
/// the cache and the locks.
void create_tables(const reflex::rsql::Database& database, bool with_cache) {
  const auto dialect = database.dialect();
  std::string ddl = reflex::rstate::entities_ddl(dialect);
  if (with_cache) {
    ddl +=
        ";\n" + reflex::rstate::cache_ddl(dialect) + ";\n" + reflex::rstate::mutexes_ddl(dialect);
  }
  database.execute(ddl);
}

class Hosted final : public StategateServices {
 public:
  Hosted(Backends backends, const rs::Identity& identity,
         std::shared_ptr<reflex::rsql::Database> database)
      : backend_(std::move(backends.name)),
        on_nats_(backend_ != "sql"),
        database_(std::move(database)),
        peer_(std::move(backends.peer), identity),
        cache_(std::move(backends.cache), identity),
        mutex_(std::move(backends.mutex), identity) {
    if (database_) {
      const reflex::rstate::Entities entities(database_);
      entity_.emplace(entities, identity);
      event_.emplace(entities, identity);
    }
  }

  std::vector<grpc::Service*> services() override {
    std::vector<grpc::Service*> out{peer_.service(), cache_.service(), mutex_.service()};
    if (entity_) {
      out.push_back(entity_->service());
      out.push_back(event_->service());
    }
    return out;
  }
  std::vector<std::string> names() const override {
    auto out = shared_names();
    if (entity_) {
      out.emplace_back(rs::EntityService::name);
      out.emplace_back(rs::EventService::name);
    }
    return out;
  }
  std::vector<std::string> nats_names() const override {
    return on_nats_ ? shared_names() : std::vector<std::string>{};
  }
  std::string backend() const override { return backend_; }
  bool ping_database() const override {
    if (!database_) return false;
    database_->ping();
    return true;
  }
  void shutdown() override {
    peer_.shutdown();
    cache_.shutdown();
    mutex_.shutdown();
    if (entity_) {
      entity_->shutdown();
      event_->shutdown();
    }
  }

 private:
  static std::vector<std::string> shared_names() {
    return {std::string(rs::PeerService::name), std::string(rs::CacheService::name),
            std::string(rs::MutexService::name)};
  }

  std::string backend_;
  bool on_nats_;
  std::shared_ptr<reflex::rsql::Database> database_;
  rs::PeerService peer_;
  rs::CacheService cache_;
  rs::MutexService mutex_;
  std::optional<rs::EntityService> entity_;
  std::optional<rs::EventService> event_;
};

}  // namespace

std::unique_ptr<StategateServices> make_stategate_services(const StategateOptions& options) {
  if (!options.nats && options.database.empty()) return nullptr;
  rs::IdentityOptions identity{.disabled = options.auth_disabled, .token = options.token};
  if (!options.jwt_hs256_secret_file.empty() || !options.jwt_rs256_public_key_file.empty()) {
    identity.verifier = std::make_shared<rs::JwtVerifier>(
        rs::JwtOptions{.hs256_secret_file = options.jwt_hs256_secret_file,
                       .rs256_public_key_file = options.jwt_rs256_public_key_file,
                       .issuer = options.jwt_issuer,
                       .audience = options.jwt_audience});
  }
  std::shared_ptr<reflex::rsql::Database> database;
  if (!options.database.empty()) {
    database = reflex::rsql::Database::open(options.database);
    create_tables(*database, !options.nats);
  }
  return std::make_unique<Hosted>(backends_of(options, database), rs::Identity(identity),
                                  std::move(database));
}

}  // namespace reflexd
