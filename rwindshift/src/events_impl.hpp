#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <unordered_set>

#include "reflex/rwindshift/events_service.hpp"
#include "windshift/events/v1alpha1/service.grpc.pb.h"

namespace reflex::rwindshift::detail {

namespace pb = windshift::events::v1alpha1;

class EventsStream;

// The unary calls are synchronous (each waits for one JetStream answer on a thread of the gRPC
// server's pool); Events is a callback reactor, so that shutdown() can end a stream whose client
// is silent, which a synchronous handler blocked in Read() cannot.
using EventsServiceBase = pb::EventsService::WithCallbackMethod_Events<pb::EventsService::Service>;

class EventsServiceImpl final : public EventsServiceBase {
 public:
  EventsServiceImpl(rnats::Connection nats, EventsServiceOptions options);
  ~EventsServiceImpl() override;

  grpc::Status EnsureStream(grpc::ServerContext* ctx, const pb::EnsureStreamRequest* req,
                            pb::EnsureStreamResponse* res) override;
  grpc::Status EnsureConsumer(grpc::ServerContext* ctx, const pb::EnsureConsumerRequest* req,
                              pb::EnsureConsumerResponse* res) override;
  grpc::Status DeleteConsumer(grpc::ServerContext* ctx, const pb::DeleteConsumerRequest* req,
                              pb::DeleteConsumerResponse* res) override;
  grpc::Status PublishEvent(grpc::ServerContext* ctx, const pb::PublishEventRequest* req,
                            pb::PublishEventResponse* res) override;
  grpc::ServerBidiReactor<pb::EventsRequest, pb::EventsResponse>* Events(
      grpc::CallbackServerContext* ctx) override;

  void shutdown();

  // For EventsStream.
  [[nodiscard]] const rnats::Connection& nats() const noexcept { return nats_; }
  [[nodiscard]] const EventsServiceOptions& options() const noexcept { return options_; }
  void forget(EventsStream* stream);

 private:
  rnats::Connection nats_;
  EventsServiceOptions options_;
  std::counting_semaphore<> publish_slots_;
  std::atomic<bool> stopping_{false};
  std::mutex streams_mu_;
  std::unordered_set<EventsStream*> streams_;
};

}  // namespace reflex::rwindshift::detail
