#include "reflex/rstategate/cache_service.hpp"

#include <atomic>

#include "stategate/schema.grpc.pb.h"
#include "status.hpp"
#include "validation.hpp"

namespace reflex::rstategate {
namespace detail {

namespace pb = ::stategate;

void to_proto(Clock::time_point at, google::protobuf::Timestamp* out) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  out->set_seconds(ns / 1'000'000'000);
  out->set_nanos(static_cast<std::int32_t>(ns % 1'000'000'000));
}

// Values are stored as the serialized google.protobuf.Value, so any client's value comes back
// as it was sent.
class CacheServiceImpl final : public pb::CacheService::Service {
 public:
  CacheServiceImpl(std::shared_ptr<CacheStore> store, Identity identity)
      : store_(std::move(store)), identity_(std::move(identity)) {}

  void shutdown() { stopping_ = true; }

  grpc::Status Set(grpc::ServerContext* ctx, const pb::Cache* req,
                   google::protobuf::Empty*) override {
    if (auto status = admit(*ctx); !status.ok()) return status;
    std::optional<Clock::time_point> expires;
    for (const auto& message : {check_name("domain", req->domain()), check_name("key", req->key()),
                                check_present("value", req->has_value()),
                                check_expiry("exp", req->has_exp(), req->exp(), expires)}) {
      if (!message.empty()) return invalid(message);
    }
    try {
      store_->set(req->domain(), req->key(), req->value().SerializeAsString(), expires);
      return grpc::Status::OK;
    } catch (...) {
      return to_status(std::current_exception(), "cache set");
    }
  }

  grpc::Status Get(grpc::ServerContext* ctx, const pb::CacheRef* req, pb::Cache* res) override {
    if (auto status = admit(*ctx); !status.ok()) return status;
    for (const auto& message :
         {check_name("domain", req->domain()), check_name("key", req->key())}) {
      if (!message.empty()) return invalid(message);
    }
    try {
      const auto entry = store_->get(req->domain(), req->key());
      if (!entry) {
        return {grpc::StatusCode::NOT_FOUND,
                "no cached value " + req->domain() + "/" + req->key() + " (missing or expired)"};
      }
      if (!res->mutable_value()->ParseFromString(entry->value)) {
        return {grpc::StatusCode::INTERNAL,
                "cached value " + req->domain() + "/" + req->key() + " is not a Value"};
      }
      res->set_domain(req->domain());
      res->set_key(req->key());
      if (entry->expires) to_proto(*entry->expires, res->mutable_exp());
      return grpc::Status::OK;
    } catch (...) {
      return to_status(std::current_exception(), "cache get");
    }
  }

  grpc::Status Del(grpc::ServerContext* ctx, const pb::CacheRef* req,
                   google::protobuf::Empty*) override {
    if (auto status = admit(*ctx); !status.ok()) return status;
    for (const auto& message :
         {check_name("domain", req->domain()), check_name("key", req->key())}) {
      if (!message.empty()) return invalid(message);
    }
    try {
      store_->erase(req->domain(), req->key());
      return grpc::Status::OK;
    } catch (...) {
      return to_status(std::current_exception(), "cache del");
    }
  }

 private:
  grpc::Status admit(const grpc::ServerContext& ctx) {
    if (stopping_) return shutting_down();
    std::string claims;
    return authorize(ctx, identity_, claims);
  }

  std::shared_ptr<CacheStore> store_;
  const Identity identity_;
  std::atomic<bool> stopping_{false};
};

}  // namespace detail

CacheService::CacheService(std::shared_ptr<CacheStore> store, Identity identity)
    : impl_(std::make_unique<detail::CacheServiceImpl>(std::move(store), std::move(identity))) {}

CacheService::~CacheService() = default;

grpc::Service* CacheService::service() noexcept {
  return impl_.get();
}

void CacheService::shutdown() {
  impl_->shutdown();
}

}  // namespace reflex::rstategate
