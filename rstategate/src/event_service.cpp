#include <atomic>

#include "entities_proto.hpp"
#include "event_hub.hpp"
#include "reflex/rstategate/entity_service.hpp"
#include "reflex/uuid.hpp"
#include "stategate/schema.grpc.pb.h"
#include "status.hpp"
#include "validation.hpp"

namespace reflex::rstategate {
namespace detail {

namespace pb = ::stategate;
using namespace std::chrono_literals;

class EventServiceImpl final : public pb::EventService::Service {
 public:
  EventServiceImpl(rstate::Entities entities, Identity identity, EventServiceOptions options)
      : entities_(entities),
        identity_(std::move(identity)),
        buffer_(options.stream_buffer),
        hub_(entities, options.stream_buffer) {}

  void shutdown() {
    stopping_ = true;
    hub_.shutdown();
  }

  grpc::Status Stream(grpc::ServerContext* ctx, const pb::StreamEventOpts* req,
                      grpc::ServerWriter<pb::Event>* writer) override {
    if (auto status = admit(*ctx); !status.ok()) return status;
    for (const auto& message :
         {check_name("domain", req->domain()), check_name("type", req->type())}) {
      if (!message.empty()) return invalid(message);
    }
    std::shared_ptr<EventHub::Subscription> subscription;
    try {
      subscription = hub_.subscribe(req->domain(), req->type(), req->consumer_group());
    } catch (...) {
      return entity_status(std::current_exception(), "stream events");
    }
    struct Leave {
      EventHub& hub;
      std::shared_ptr<EventHub::Subscription>& subscription;
      ~Leave() { hub.unsubscribe(subscription); }
    } leave{hub_, subscription};
    // The client learns that it is subscribed: a change it makes after this reaches it.
    writer->SendInitialMetadata();
    // The wait is bounded so that a cancelled call (the client went away) or a drain is noticed
    // within it; an idle stream costs one wake-up per period, not a poll of the database.
    while (true) {
      if (ctx->IsCancelled()) return {grpc::StatusCode::CANCELLED, "the client went away"};
      if (auto event = subscription->next(250ms)) {
        if (!writer->Write(*event)) return {grpc::StatusCode::CANCELLED, "the client went away"};
        continue;
      }
      switch (subscription->state()) {
        case EventHub::Subscription::State::open:
          break;
        case EventHub::Subscription::State::overflowed:
          return {grpc::StatusCode::RESOURCE_EXHAUSTED,
                  "this stream fell more than " + std::to_string(buffer_) +
                      " events behind and was cut off: read faster, or search the history for "
                      "what it missed"};
        case EventHub::Subscription::State::closed:
          return shutting_down();
      }
    }
  }

  grpc::Status Search(grpc::ServerContext* ctx, const pb::SearchEventOpts* req,
                      pb::Events* res) override {
    if (auto status = admit(*ctx); !status.ok()) return status;
    for (const auto& message :
         {check_name("domain", req->domain()), check_name("type", req->type()),
          req->limit() > 0 ? std::string() : std::string("limit: must be greater than 0"),
          req->min() >= 0 && req->max() >= 0 ? std::string()
                                             : std::string("min, max: must not be negative")}) {
      if (!message.empty()) return invalid(message);
    }
    try {
      const auto found = entities_.search_events(
          {.domain = req->domain(),
           .type = req->type(),
           .key = {},
           .filter = req->query_string(),
           .min_ns = req->min(),
           .max_ns = req->max(),
           .sort = {.field = req->sort().field(), .reverse = req->sort().reverse()},
           .limit = req->limit(),
           .offset = req->offset()});
      for (const auto& event : found) *res->add_events() = to_proto(event);
      return grpc::Status::OK;
    } catch (...) {
      return entity_status(std::current_exception(),
                           "search events of " + req->domain() + "/" + req->type());
    }
  }

  grpc::Status Get(grpc::ServerContext* ctx, const pb::EventRef* req, pb::Event* res) override {
    if (auto status = admit(*ctx); !status.ok()) return status;
    for (const auto& message :
         {check_name("domain", req->domain()), check_name("type", req->type()),
          check_name("key", req->key()),
          is_uuid_v4(req->id()) ? std::string()
                                : "id: must be a version 4 UUID (got '" + req->id() + "')"}) {
      if (!message.empty()) return invalid(message);
    }
    const std::string what = req->domain() + "/" + req->type() + "/" + req->key();
    try {
      const auto event = entities_.get_event({req->domain(), req->type(), req->key()}, req->id());
      if (!event)
        return {grpc::StatusCode::NOT_FOUND, "entity " + what + " has no event " + req->id()};
      *res = to_proto(*event);
      return grpc::Status::OK;
    } catch (...) {
      return entity_status(std::current_exception(), "get event of " + what);
    }
  }

 private:
  grpc::Status admit(const grpc::ServerContext& ctx) {
    if (stopping_) return shutting_down();
    std::string claims;
    return authorize(ctx, identity_, claims);
  }

  rstate::Entities entities_;
  const Identity identity_;
  const std::size_t buffer_;
  EventHub hub_;
  std::atomic<bool> stopping_{false};
};

}  // namespace detail

EventService::EventService(rstate::Entities entities, Identity identity,
                           EventServiceOptions options)
    : impl_(std::make_unique<detail::EventServiceImpl>(std::move(entities), std::move(identity),
                                                       options)) {}

EventService::~EventService() {
  impl_->shutdown();
}

grpc::Service* EventService::service() noexcept {
  return impl_.get();
}

void EventService::shutdown() {
  impl_->shutdown();
}

}  // namespace reflex::rstategate
