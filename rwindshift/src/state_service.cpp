#include "reflex/rwindshift/state_service.hpp"

#include <atomic>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "reflex/rnats/errors.hpp"
#include "reflex/rnats/kv.hpp"
#include "reflex/rwindshift/names.hpp"
#include "status.hpp"
#include "timestamps.hpp"
#include "windshift/state/v1alpha1/service.grpc.pb.h"

namespace reflex::rwindshift {
namespace detail {

namespace pb = windshift::state::v1alpha1;

class StateServiceImpl final : public pb::StateService::Service {
 public:
  StateServiceImpl(rnats::Connection nats, StateServiceOptions options)
      : nats_(std::move(nats)), options_(options) {}

  void shutdown() { stopping_ = true; }

  grpc::Status EnsureStore(grpc::ServerContext*, const pb::EnsureStoreRequest* req,
                           pb::EnsureStoreResponse*) override {
    if (stopping_) return shutting_down();
    if (!is_valid_name(req->store())) return invalid("invalid store name: " + req->store());
    try {
      // windshift creates a missing store with JetStream's defaults and leaves an existing one
      // as it is (its history, ttl or limits may have been set by an operator).
      if (auto bound = lookup(req->store())) return grpc::Status::OK;
      remember(req->store(), rnats::StateStore::ensure(
                                 nats_, {.name = req->store(), .storage = options_.storage}));
      return grpc::Status::OK;
    } catch (...) {
      return to_status(std::current_exception(), "ensure store " + req->store());
    }
  }

  grpc::Status Get(grpc::ServerContext*, const pb::GetRequest* req, pb::GetResponse* res) override {
    grpc::Status status;
    auto store = bind(req->store(), req->key(), status);
    if (!store) return status;
    try {
      const auto entry = store->get(req->key());
      // A missing key is no error in windshift: revision 0, no value, no time.
      if (!entry) return grpc::Status::OK;
      if (!res->mutable_value()->ParseFromString(entry->value)) {
        return {grpc::StatusCode::INTERNAL, "failed to unmarshal value of key " + req->key()};
      }
      to_proto(entry->created, res->mutable_last_updated());
      res->set_revision(entry->revision);
      return grpc::Status::OK;
    } catch (...) {
      return to_status(std::current_exception(), "get " + req->key());
    }
  }

  grpc::Status Set(grpc::ServerContext*, const pb::SetRequest* req, pb::SetResponse* res) override {
    grpc::Status status;
    auto store = bind(req->store(), req->key(), status);
    if (!store) return status;
    const std::string value = req->value().SerializeAsString();
    try {
      if (req->create_only()) {
        res->set_revision(store->create(req->key(), value));
      } else if (req->has_last_revision()) {
        if (req->last_revision() == 0) {
          // JetStream reads revision 0 as "must not exist"; windshift passes it on, so do we.
          res->set_revision(store->create(req->key(), value));
        } else {
          res->set_revision(store->update(req->key(), value, req->last_revision()));
        }
      } else {
        res->set_revision(store->put(req->key(), value));
      }
      return grpc::Status::OK;
    } catch (const rnats::RevisionConflict&) {
      if (req->create_only()) return {grpc::StatusCode::ALREADY_EXISTS, "key already exists"};
      return {grpc::StatusCode::FAILED_PRECONDITION, "revision mismatch"};
    } catch (...) {
      return to_status(std::current_exception(), "set " + req->key());
    }
  }

  grpc::Status Delete(grpc::ServerContext*, const pb::DeleteRequest* req,
                      pb::DeleteResponse*) override {
    grpc::Status status;
    auto store = bind(req->store(), req->key(), status);
    if (!store) return status;
    try {
      if (req->has_last_revision()) {
        store->erase(req->key(), req->last_revision());
      } else {
        store->erase(req->key());
      }
      return grpc::Status::OK;
    } catch (const rnats::RevisionConflict&) {
      return {grpc::StatusCode::FAILED_PRECONDITION, "revision mismatch"};
    } catch (...) {
      return to_status(std::current_exception(), "delete " + req->key());
    }
  }

 private:
  // The store of a call on a key, validated as windshift does: names first, then the store must
  // exist (windshift answers a missing store with INVALID_ARGUMENT "store not found").
  std::optional<rnats::StateStore> bind(const std::string& store, const std::string& key,
                                        grpc::Status& status) {
    if (stopping_) {
      status = shutting_down();
      return std::nullopt;
    }
    if (!is_valid_name(store)) {
      status = invalid("invalid store name: " + store);
      return std::nullopt;
    }
    if (!is_valid_key(key)) {
      status = invalid("invalid key: " + key);
      return std::nullopt;
    }
    if (auto bound = lookup(store)) return bound;
    try {
      auto opened = rnats::StateStore::open(nats_, store);
      remember(store, opened);
      return opened;
    } catch (const rnats::NotFound&) {
      status = invalid("store not found");
    } catch (...) {
      status = to_status(std::current_exception(), "open store " + store);
    }
    return std::nullopt;
  }

  std::optional<rnats::StateStore> lookup(const std::string& store) {
    std::lock_guard lock(mu_);
    const auto it = stores_.find(store);
    if (it == stores_.end()) return std::nullopt;
    return it->second;
  }

  void remember(const std::string& store, const rnats::StateStore& bound) {
    std::lock_guard lock(mu_);
    if (stores_.size() >= options_.cached_stores && !order_.empty()) {
      stores_.erase(order_.front());
      order_.pop_front();
    }
    if (stores_.emplace(store, bound).second) order_.push_back(store);
  }

  rnats::Connection nats_;
  StateServiceOptions options_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::unordered_map<std::string, rnats::StateStore> stores_;
  std::list<std::string> order_;
};

}  // namespace detail

StateService::StateService(rnats::Connection nats, StateServiceOptions options)
    : impl_(std::make_unique<detail::StateServiceImpl>(std::move(nats), options)) {}

StateService::~StateService() = default;

grpc::Service* StateService::service() noexcept {
  return impl_.get();
}

void StateService::shutdown() {
  impl_->shutdown();
}

}  // namespace reflex::rwindshift
