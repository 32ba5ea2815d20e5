#include "reflex/rstategate/peer_service.hpp"

#include <google/protobuf/util/json_util.h>

#include <atomic>
#include <mutex>
#include <unordered_set>

#include "ids.hpp"
#include "reflex/uuid.hpp"
#include "stategate/schema.grpc.pb.h"
#include "status.hpp"
#include "validation.hpp"

namespace reflex::rstategate {
namespace detail {

namespace pb = ::stategate;

// Broadcast is synchronous (one publish). Stream is a synchronous handler on a thread of the
// gRPC server's pool: it subscribes, sends its initial metadata (so a client can wait for
// "subscribed" before anyone broadcasts), then writes what its inbox yields. It ends when the
// client goes away (seen within cancel_check), when its write fails, or at shutdown(), which
// wakes it at once through its stop source.
class PeerServiceImpl final : public pb::PeerService::Service {
 public:
  PeerServiceImpl(std::shared_ptr<PeerHub> hub, Identity identity, PeerServiceOptions options)
      : hub_(std::move(hub)), identity_(std::move(identity)), options_(options) {}

  void shutdown() {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto* stop : streams_) stop->request_stop();
  }

  std::size_t open_streams() const {
    std::lock_guard lock(mu_);
    return streams_.size();
  }

  grpc::Status Broadcast(grpc::ServerContext* ctx, const pb::Message* req,
                         google::protobuf::Empty*) override {
    if (stopping_) return shutting_down();
    std::string claims;
    if (auto status = authorize(*ctx, identity_, claims); !status.ok()) return status;
    for (const auto& message :
         {check_name("domain", req->domain()), check_name("channel", req->channel()),
          check_name("type", req->type()), check_present("body", req->has_body())}) {
      if (!message.empty()) return invalid(message);
    }
    pb::PeerMessage out;
    out.set_id(random_uuid());
    out.set_domain(req->domain());
    out.set_channel(req->channel());
    out.set_type(req->type());
    *out.mutable_body() = req->body();
    if (!google::protobuf::util::JsonStringToMessage(claims, out.mutable_claims()).ok()) {
      return {grpc::StatusCode::INTERNAL, "the caller's claims are not a JSON object"};
    }
    out.set_time(now_ns());
    try {
      hub_->publish({.domain = req->domain(), .channel = req->channel(), .type = req->type()},
                    out.SerializeAsString());
      return grpc::Status::OK;
    } catch (...) {
      return to_status(std::current_exception(), "broadcast");
    }
  }

  grpc::Status Stream(grpc::ServerContext* ctx, const pb::StreamMessageOpts* req,
                      grpc::ServerWriter<pb::PeerMessage>* writer) override {
    std::string claims;
    if (auto status = authorize(*ctx, identity_, claims); !status.ok()) return status;
    for (const auto& message :
         {check_pattern("domain", req->domain()), check_pattern("channel", req->channel()),
          check_pattern("type", req->type())}) {
      if (!message.empty()) return invalid(message);
    }
    std::stop_source stop;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return shutting_down();
      if (streams_.size() >= options_.max_streams) {
        return {grpc::StatusCode::RESOURCE_EXHAUSTED,
                "too many open peer streams (" + std::to_string(options_.max_streams) + ")"};
      }
      streams_.insert(&stop);
    }
    const auto forget = [&] {
      std::lock_guard lock(mu_);
      streams_.erase(&stop);
    };
    try {
      auto inbox =
          hub_->subscribe({.domain = req->domain(), .channel = req->channel(), .type = req->type()},
                          req->consumer_group());
      writer->SendInitialMetadata();
      pb::PeerMessage message;
      while (!stop.stop_requested() && !ctx->IsCancelled()) {
        auto payload = inbox->next(stop.get_token(), options_.cancel_check);
        if (!payload) continue;
        // Other programs may publish on these subjects: what is not a PeerMessage is skipped.
        if (!message.ParseFromString(*payload)) continue;
        if (!writer->Write(message)) break;
      }
    } catch (...) {
      forget();
      return to_status(std::current_exception(), "peer stream");
    }
    forget();
    if (stop.stop_requested()) return shutting_down();
    return {grpc::StatusCode::CANCELLED, "the client went away"};
  }

 private:
  std::shared_ptr<PeerHub> hub_;
  const Identity identity_;
  const PeerServiceOptions options_;
  mutable std::mutex mu_;
  std::atomic<bool> stopping_{false};
  std::unordered_set<std::stop_source*> streams_;
};

}  // namespace detail

PeerService::PeerService(std::shared_ptr<PeerHub> hub, Identity identity,
                         PeerServiceOptions options)
    : impl_(std::make_unique<detail::PeerServiceImpl>(std::move(hub), std::move(identity),
                                                      options)) {}

PeerService::~PeerService() = default;

grpc::Service* PeerService::service() noexcept {
  return impl_.get();
}

std::size_t PeerService::open_streams() const {
  return impl_->open_streams();
}

void PeerService::shutdown() {
  impl_->shutdown();
}

}  // namespace reflex::rstategate
