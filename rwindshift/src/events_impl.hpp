#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "reflex/rnats/publisher.hpp"
#include "reflex/rwindshift/events_service.hpp"
#include "windshift/events/v1alpha1/service.grpc.pb.h"

namespace reflex::rwindshift::detail {

namespace pb = windshift::events::v1alpha1;

class EventsStream;

// EnsureStream, EnsureConsumer and DeleteConsumer are synchronous (each waits for one JetStream
// API answer on a thread of the gRPC server's pool: rare calls). PublishEvent is a callback
// method: it sends the event through an AsyncPublisher and finishes from the acknowledgement's
// callback, so no thread waits for JetStream and up to publish_async_max_pending publishes share
// one connection at once. Events is a callback reactor, so that shutdown() can end a stream
// whose client is silent, which a synchronous handler blocked in Read() cannot.
using EventsServiceBase = pb::EventsService::WithCallbackMethod_Events<
    pb::EventsService::WithCallbackMethod_PublishEvent<pb::EventsService::Service>>;

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
  grpc::ServerUnaryReactor* PublishEvent(grpc::CallbackServerContext* ctx,
                                         const pb::PublishEventRequest* req,
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
  rnats::AsyncPublisher publisher_;
  std::atomic<bool> stopping_{false};
  std::mutex streams_mu_;
  std::unordered_set<EventsStream*> streams_;
};

}  // namespace reflex::rwindshift::detail
