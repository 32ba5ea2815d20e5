#include "events_stream.hpp"

#include <utility>
#include <vector>

#include "reflex/errors.hpp"
#include "reflex/rnats/errors.hpp"
#include "reflex/rwindshift/names.hpp"
#include "status.hpp"
#include "timestamps.hpp"

namespace reflex::rwindshift::detail {

EventsStream::EventsStream(EventsServiceImpl& service, grpc::CallbackServerContext*)
    : service_(service), registered_(true) {
  StartRead(&request_);
}

EventsStream::EventsStream(EventsServiceImpl& service, grpc::Status status) : service_(service) {
  end(std::move(status));
}

void EventsStream::OnReadDone(bool ok) {
  if (!ok) {
    // The client closed its side (or went away): nothing more can be acknowledged here, so the
    // call is over; unfinished deliveries are released in OnDone.
    end(grpc::Status::OK);
    return;
  }
  switch (request_.request_case()) {
    case pb::EventsRequest::kSubscribe: {
      if (subscribed_) {
        end(invalid("cannot subscribe again"));
        return;
      }
      subscribed_ = true;
      std::lock_guard lock(mu_);
      if (ending_) return;
      // Subscribing asks JetStream for the consumer: that waits, so it runs on the pump thread.
      pump_ = std::jthread([this, sub = request_.subscribe()](std::stop_token stop) mutable {
        pump(std::move(stop), std::move(sub));
      });
      break;
    }
    case pb::EventsRequest::kAck:
      if (!subscribed_) return end(invalid("first message must be a subscribe"));
      handle_ack(request_.ack());
      break;
    case pb::EventsRequest::kReject:
      if (!subscribed_) return end(invalid("first message must be a subscribe"));
      handle_reject(request_.reject());
      break;
    case pb::EventsRequest::kPing:
      if (!subscribed_) return end(invalid("first message must be a subscribe"));
      handle_ping(request_.ping());
      break;
    default:
      if (!subscribed_) return end(invalid("first message must be a subscribe"));
      break;  // an empty request (a newer client's kind): ignored, as windshift does
  }
  {
    std::lock_guard lock(mu_);
    if (ending_) return;
  }
  StartRead(&request_);
}

namespace {

void to_event(const rnats::Delivery& delivery, pb::EventsResponse& response) {
  auto& event = *response.mutable_event();
  auto ws = delivery.windshift_event();
  event.set_id(delivery.sequence());
  event.set_subject(std::move(ws.subject));
  event.set_delivery_attempt(delivery.attempt());
  auto& headers = *event.mutable_headers();
  to_proto(ws.published, headers.mutable_timestamp());
  if (!ws.idempotency_key.empty()) headers.set_idempotency_key(ws.idempotency_key);
  if (!ws.trace_parent.empty()) headers.set_trace_parent(ws.trace_parent);
  if (!ws.trace_state.empty()) headers.set_trace_state(ws.trace_state);
  auto& data = *event.mutable_data();
  std::string type_url;
  type_url.reserve(20 + ws.data_type.size());
  type_url.append("type.googleapis.com/").append(ws.data_type);
  data.set_type_url(std::move(type_url));
  data.set_value(std::move(ws.data));
}

}  // namespace

void EventsStream::pump(std::stop_token stop, pb::EventsRequest::Subscribe subscribe) {
  const auto& options = service_.options();
  if (!is_valid_name(subscribe.stream())) {
    return end(invalid("invalid stream name: " + subscribe.stream()));
  }
  if (!is_valid_name(subscribe.consumer())) {
    return end(invalid("invalid consumer name: " + subscribe.consumer()));
  }
  std::size_t window = options.default_processing_events;
  if (subscribe.has_max_processing_events() && subscribe.max_processing_events() > 0) {
    window = static_cast<std::size_t>(subscribe.max_processing_events());
  }
  window = std::max<std::size_t>(1, std::min(window, options.max_processing_events));
  try {
    rnats::Subscription sub(service_.nats(), subscribe.stream(), subscribe.consumer(),
                            {.max_in_flight = window, .dead_letters = options.dead_letters});
    {
      std::lock_guard lock(tracked_mu_);
      timeout_ = sub.processing_timeout();
      dead_letters_ = options.dead_letters;
    }
    pb::EventsResponse subscribed;
    to_proto(timeout_, subscribed.mutable_subscribed()->mutable_processing_timeout());
    send(std::move(subscribed));

    auto last_collect = Clock::now();
    std::vector<rnats::Delivery> ready;
    std::vector<pb::EventsResponse> responses;
    while (!stop.stop_requested()) {
      // Waking up once per processing timeout when idle: to forget stale deliveries.
      auto delivery = sub.next(stop, timeout_);
      const auto now = Clock::now();
      if (now - last_collect >= timeout_) {
        collect(now);
        last_collect = now;
      }
      if (!delivery) continue;
      // What has arrived meanwhile goes out with it: one lock for the batch, and gRPC holds
      // every write but the batch's last in its buffer (fewer frames and syscalls).
      ready.push_back(std::move(*delivery));
      while (ready.size() < window) {
        auto more = sub.next(stop, std::chrono::milliseconds::zero());
        if (!more) break;
        ready.push_back(std::move(*more));
      }
      responses.resize(ready.size());
      for (std::size_t i = 0; i < ready.size(); ++i) to_event(ready[i], responses[i]);
      {
        std::lock_guard lock(tracked_mu_);
        // A redelivery of an event this stream still tracks replaces the stale delivery.
        for (auto& d : ready) {
          const auto sequence = d.sequence();
          tracked_.insert_or_assign(sequence, Tracked{std::move(d), now});
        }
      }
      ready.clear();
      send(responses);
      responses.clear();
    }
  } catch (const rnats::NotFound& e) {
    end({grpc::StatusCode::NOT_FOUND, e.what()});
  } catch (...) {
    end(to_status(std::current_exception(), "subscribe to " + subscribe.consumer()));
  }
}

void EventsStream::send(std::vector<pb::EventsResponse>& responses) {
  std::lock_guard lock(mu_);
  if (ending_) return;
  for (auto& r : responses) queue_.push_back(std::move(r));
  if (!writing_) start_write_locked();
}

void EventsStream::send(pb::EventsResponse&& response) {
  std::lock_guard lock(mu_);
  if (ending_) return;
  queue_.push_back(std::move(response));
  if (!writing_) start_write_locked();
}

void EventsStream::start_write_locked() {
  writing_ = true;
  // More queued behind this one: let gRPC coalesce them into fewer frames and syscalls.
  grpc::WriteOptions options;
  if (queue_.size() > 1) options.set_buffer_hint();
  StartWrite(&queue_.front(), options);
}

void EventsStream::OnWriteDone(bool ok) {
  std::lock_guard lock(mu_);
  queue_.pop_front();
  writing_ = false;
  if (!ok) {
    // The client is gone; the call can only end.
    if (!ending_) {
      ending_ = true;
      final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      if (pump_.joinable()) pump_.request_stop();
    }
    queue_.clear();
  }
  if (ending_) {
    if (!finished_) {
      finished_ = true;
      Finish(final_status_);
    }
    return;
  }
  if (!queue_.empty()) start_write_locked();
}

void EventsStream::end(grpc::Status status) {
  std::lock_guard lock(mu_);
  if (ending_) return;
  ending_ = true;
  final_status_ = std::move(status);
  if (pump_.joinable()) pump_.request_stop();
  if (writing_) {
    // Finish after the write in flight (OnWriteDone); what is queued behind it is dropped.
    while (queue_.size() > 1) queue_.pop_back();
    return;
  }
  queue_.clear();
  finished_ = true;
  Finish(final_status_);
}

void EventsStream::OnCancel() {
  end({grpc::StatusCode::CANCELLED, "cancelled"});
}

void EventsStream::OnDone() {
  {
    std::lock_guard lock(mu_);
    if (pump_.joinable()) pump_.request_stop();
  }
  if (pump_.joinable()) pump_.join();
  release_unfinished();
  if (registered_) service_.forget(this);
  delete this;
}

namespace {

// Sorts one delivery's outcome into the confirmation's lists, as windshift does: done, invalid
// (unknown id, or finished already) or temporarily failed (NATS did not take it; try again).
template <class Confirmation, class Action>
void confirm(Confirmation& out, std::uint64_t id, rnats::Delivery* delivery, Action&& action) {
  if (delivery == nullptr) {
    out.add_invalid_ids(id);
    return;
  }
  try {
    action(*delivery);
    out.add_ids(id);
  } catch (const ConfigError&) {
    out.add_invalid_ids(id);  // finished already
  } catch (...) {
    out.add_temporary_failed_ids(id);
  }
}

}  // namespace

void EventsStream::handle_ack(const pb::EventsRequest::Ack& ack) {
  pb::EventsResponse response;
  auto& out = *response.mutable_ack_confirmation();
  std::vector<std::pair<std::uint64_t, std::optional<rnats::Delivery>>> batch;
  batch.reserve(static_cast<std::size_t>(ack.ids_size()));
  {
    // Taken out under the lock, finished outside it: the pump is not held up by NATS calls.
    std::lock_guard lock(tracked_mu_);
    for (const auto id : ack.ids()) {
      const auto it = tracked_.find(id);
      if (it == tracked_.end()) {
        batch.emplace_back(id, std::nullopt);
      } else {
        batch.emplace_back(id, std::move(it->second.delivery));
        tracked_.erase(it);
      }
    }
  }
  for (auto& [id, delivery] : batch) {
    confirm(out, id, delivery ? &*delivery : nullptr, [](rnats::Delivery& d) { d.ack_nowait(); });
  }
  send(std::move(response));
}

void EventsStream::handle_reject(const pb::EventsRequest::Reject& reject) {
  pb::EventsResponse response;
  auto& out = *response.mutable_reject_confirmation();
  rnats::RejectOptions options;
  options.permanently = reject.has_permanently() && reject.permanently();
  if (reject.has_delay()) options.delay = from_proto(reject.delay());
  options.reason = options.permanently ? "rejected by the subscriber" : "";
  for (const auto id : reject.ids()) {
    std::optional<rnats::Delivery> delivery;
    {
      std::lock_guard lock(tracked_mu_);
      const auto it = tracked_.find(id);
      if (it != tracked_.end()) {
        delivery.emplace(std::move(it->second.delivery));
        tracked_.erase(it);
      }
    }
    confirm(out, id, delivery ? &*delivery : nullptr,
            [&](rnats::Delivery& d) { d.reject(options); });
    if (delivery && !delivery->finished()) {
      // NATS did not take it: keep it, so the client can try again.
      std::lock_guard lock(tracked_mu_);
      tracked_.insert_or_assign(id, Tracked{std::move(*delivery), Clock::now()});
    }
  }
  send(std::move(response));
}

void EventsStream::handle_ping(const pb::EventsRequest::Ping& ping) {
  pb::EventsResponse response;
  auto& out = *response.mutable_ping_confirmation();
  const auto now = Clock::now();
  {
    std::lock_guard lock(tracked_mu_);
    for (const auto id : ping.ids()) {
      const auto it = tracked_.find(id);
      // A ping is one publish without waiting: done under the lock, cheaper than taking it out.
      confirm(out, id, it == tracked_.end() ? nullptr : &it->second.delivery,
              [&](rnats::Delivery& d) {
                d.ping();
                it->second.touched = now;
              });
    }
  }
  send(std::move(response));
}

void EventsStream::collect(Clock::time_point now) {
  std::lock_guard lock(tracked_mu_);
  std::erase_if(tracked_, [&](const auto& entry) { return now - entry.second.touched > timeout_; });
}

void EventsStream::release_unfinished() {
  std::unordered_map<std::uint64_t, Tracked> left;
  {
    std::lock_guard lock(tracked_mu_);
    left.swap(tracked_);
  }
  for (auto& [id, tracked] : left) {
    auto& d = tracked.delivery;
    // Handed back at once, so another subscriber gets it without waiting for the timeout; but an
    // event on its last allowed delivery is left to time out: a reject would dead-letter it,
    // and it was not processed, it failed nobody.
    if (dead_letters_ && dead_letters_->max_deliveries > 0 &&
        d.attempt() >= static_cast<std::uint64_t>(dead_letters_->max_deliveries)) {
      continue;
    }
    try {
      if (!d.finished()) d.reject();
    } catch (...) {
      // Not handed back: it comes back after the processing timeout instead.
    }
  }
}

}  // namespace reflex::rwindshift::detail
