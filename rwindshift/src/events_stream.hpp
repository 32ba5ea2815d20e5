#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>
#include <unordered_map>
#include <vector>

#include "events_impl.hpp"
#include "reflex/rnats/streams.hpp"

namespace reflex::rwindshift::detail {

// One Events call: the client's first message subscribes, then events flow out while acks,
// rejects and pings flow in.
//
// Threads: gRPC's callback threads run OnReadDone (acks, rejects and pings are handled there:
// each is one NATS publish, no round trip, except a dead-letter copy) and OnWriteDone; the
// stream's own thread (pump) subscribes and waits in rnats::Subscription::next for events (an
// idle stream sleeps in JetStream's long pull, it does not poll). One write is in flight at a
// time; the queue behind it holds at most max_processing_events events plus one confirmation per
// client request (a new request is read only after its confirmation is queued).
//
// Lifetime: gRPC owns it from Events() until OnDone, which stops and joins the pump and deletes
// it.
class EventsStream final : public grpc::ServerBidiReactor<pb::EventsRequest, pb::EventsResponse> {
 public:
  EventsStream(EventsServiceImpl& service, grpc::CallbackServerContext* ctx);
  // A stream refused at once (shutdown, too many streams): finishes with `status`.
  EventsStream(EventsServiceImpl& service, grpc::Status status);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  // Ends the call with `status` once the write in flight is done; later ends are ignored.
  void end(grpc::Status status);

 private:
  using Clock = std::chrono::steady_clock;
  struct Tracked {
    rnats::Delivery delivery;
    Clock::time_point touched;  // handed out or last pinged
  };

  void pump(std::stop_token stop, pb::EventsRequest::Subscribe subscribe);
  void send(pb::EventsResponse&& response);
  // Queues every response (moved from; the vector keeps its capacity).
  void send(std::vector<pb::EventsResponse>& responses);
  void start_write_locked();
  void handle_ack(const pb::EventsRequest::Ack& ack);
  void handle_reject(const pb::EventsRequest::Reject& reject);
  void handle_ping(const pb::EventsRequest::Ping& ping);
  // Forgets deliveries not touched within the processing timeout (the server has handed them
  // out again by now), as windshift does.
  void collect(Clock::time_point now);
  void release_unfinished();

  EventsServiceImpl& service_;
  bool registered_ = false;
  pb::EventsRequest request_;
  bool subscribed_ = false;  // read side only (OnReadDone runs one at a time)

  std::mutex mu_;  // the write queue, the end state and the pump's start
  std::deque<pb::EventsResponse> queue_;
  bool writing_ = false;
  bool ending_ = false;
  bool finished_ = false;
  grpc::Status final_status_;
  std::jthread pump_;

  std::mutex tracked_mu_;
  std::unordered_map<std::uint64_t, Tracked> tracked_;
  std::chrono::milliseconds timeout_{std::chrono::seconds(30)};
  std::optional<rnats::DeadLetterOptions> dead_letters_;
};

}  // namespace reflex::rwindshift::detail
