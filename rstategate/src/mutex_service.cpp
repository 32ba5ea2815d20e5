#include "reflex/rstategate/mutex_service.hpp"

#include <atomic>

#include "stategate/schema.grpc.pb.h"
#include "status.hpp"
#include "validation.hpp"

namespace reflex::rstategate {
namespace detail {

namespace pb = ::stategate;

class MutexServiceImpl final : public pb::MutexService::Service {
 public:
  MutexServiceImpl(std::shared_ptr<MutexStore> store, Identity identity)
      : store_(std::move(store)), identity_(std::move(identity)) {}

  void shutdown() { stopping_ = true; }

  grpc::Status Lock(grpc::ServerContext* ctx, const pb::Mutex* req,
                    google::protobuf::Empty*) override {
    if (auto status = admit(*ctx); !status.ok()) return status;
    std::optional<Clock::time_point> expires;
    for (const auto& message : {check_name("domain", req->domain()), check_name("key", req->key()),
                                check_expiry("exp", req->has_exp(), req->exp(), expires)}) {
      if (!message.empty()) return invalid(message);
    }
    try {
      if (store_->lock(req->domain(), req->key(), expires)) return grpc::Status::OK;
      return {grpc::StatusCode::ALREADY_EXISTS,
              "mutex " + req->domain() + "/" + req->key() + " is locked"};
    } catch (...) {
      return to_status(std::current_exception(), "lock");
    }
  }

  grpc::Status Unlock(grpc::ServerContext* ctx, const pb::MutexRef* req,
                      google::protobuf::Empty*) override {
    if (auto status = admit(*ctx); !status.ok()) return status;
    for (const auto& message :
         {check_name("domain", req->domain()), check_name("key", req->key())}) {
      if (!message.empty()) return invalid(message);
    }
    try {
      if (store_->unlock(req->domain(), req->key())) return grpc::Status::OK;
      return {grpc::StatusCode::NOT_FOUND,
              "mutex " + req->domain() + "/" + req->key() + " is not locked"};
    } catch (...) {
      return to_status(std::current_exception(), "unlock");
    }
  }

 private:
  grpc::Status admit(const grpc::ServerContext& ctx) {
    if (stopping_) return shutting_down();
    std::string claims;
    return authorize(ctx, identity_, claims);
  }

  std::shared_ptr<MutexStore> store_;
  const Identity identity_;
  std::atomic<bool> stopping_{false};
};

}  // namespace detail

MutexService::MutexService(std::shared_ptr<MutexStore> store, Identity identity)
    : impl_(std::make_unique<detail::MutexServiceImpl>(std::move(store), std::move(identity))) {}

MutexService::~MutexService() = default;

grpc::Service* MutexService::service() noexcept {
  return impl_.get();
}

void MutexService::shutdown() {
  impl_->shutdown();
}

}  // namespace reflex::rstategate
