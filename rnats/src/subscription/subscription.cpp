// Subscription: subscribing to a push or pull consumer, and next(), which hands out deliveries
// (skipping events on none of the consumer's subjects, dead-lettering those past their delivery
// limit).

#include "subscription/state.hpp"

namespace reflex::rnats {

Subscription::Subscription(const Connection& connection, std::string_view stream,
                           std::string_view consumer, const SubscribeOptions& options) {
  auto state = std::make_shared<detail::SubscriptionState>();
  state->conn = detail::Access::state(connection);
  state->stream = stream;
  state->consumer = consumer;
  state->auto_ping = options.auto_ping;
  if (state->stream.empty() || state->consumer.empty()) {
    throw ConfigError("Subscription: name the stream and the consumer (see ensure_consumer)");
  }
  if (options.max_in_flight == 0) {
    throw ConfigError("Subscription to " + state->name() + ": max_in_flight must be positive");
  }
  state->max_in_flight = options.max_in_flight;
  auto& conn = *state->conn;
  jsOptions jo = conn.js_options();
  jsErrCode jerr{};
  jsConsumerInfo* raw = nullptr;
  natsStatus s = js_GetConsumerInfo(&raw, conn.js.get(), state->stream.c_str(),
                                    state->consumer.c_str(), &jo, &jerr);
  if (s == NATS_NOT_FOUND) {
    throw NotFound("subscribe to " + state->name() +
                   ": it does not exist; create it with ensure_consumer");
  }
  detail::check(s, "subscribe to " + state->name(), jerr);
  const detail::ConsumerInfoPtr info(raw);
  if (info->Config == nullptr) {
    throw JetStreamError("subscribe to " + state->name() + ": the server sent no configuration",
                         NATS_ERR, 0, true);
  }
  const jsConsumerConfig& cc = *info->Config;
  state->pull = cc.DeliverSubject == nullptr || *cc.DeliverSubject == '\0';
  state->ack_wait =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds(cc.AckWait));
  std::string description;
  detail::split_filter_line(cc.Description != nullptr ? cc.Description : "", description,
                            state->filters);
  if (options.dead_letters) {
    state->dead = options.dead_letters;
    if (state->dead->stream.empty()) state->dead->stream = dead_letter_stream(state->stream);
    if (state->dead->stream == state->stream) {
      throw ConfigError("subscribe to " + state->name() +
                        ": the dead-letter stream must be another stream");
    }
    if (state->dead->max_deliveries < 0) {
      throw ConfigError("subscribe to " + state->name() + ": max_deliveries must not be negative");
    }
    if (cc.MaxDeliver > 0 && state->dead->max_deliveries > 0 &&
        cc.MaxDeliver <= state->dead->max_deliveries) {
      throw ConfigError("subscribe to " + state->name() + ": the server gives up after " +
                        std::to_string(cc.MaxDeliver) +
                        " deliveries, before the dead-letter limit of " +
                        std::to_string(state->dead->max_deliveries) +
                        ", and would drop events without a copy; create the consumer with "
                        "max_delivery_attempts = 0");
    }
  }

  if (state->pull) {
    state->inbox = std::make_shared<detail::PullInbox>();
    natsInbox* inbox = nullptr;
    detail::check(natsInbox_Create(&inbox), "subscribe to " + state->name());
    state->inbox_prefix = inbox;
    natsInbox_Destroy(inbox);
    state->next_subject = "$JS.API.CONSUMER.MSG.NEXT." + state->stream + "." + state->consumer;
    auto* closure = new std::shared_ptr<detail::PullInbox>(state->inbox);
    natsSubscription* sub = nullptr;
    s = natsConnection_Subscribe(&sub, conn.nc.get(), (state->inbox_prefix + ".*").c_str(),
                                 &detail::PullInbox::on_msg, closure);
    if (s != NATS_OK) {
      delete closure;
      detail::throw_status(s, "subscribe to " + state->name());
    }
    state->sub.reset(sub);
    natsSubscription_SetOnCompleteCB(sub, &detail::PullInbox::on_complete, closure);
    natsSubscription_SetPendingLimits(sub, -1, -1);  // bounded by what we ask for
  } else {
    const std::string group = cc.DeliverGroup != nullptr ? cc.DeliverGroup : std::string{};
    // Bounded by the consumer's max_pending on the server; the queue just needs to hold that.
    const auto capacity = static_cast<std::size_t>(std::max<std::int64_t>(cc.MaxAckPending, 64));
    state->queue = std::make_shared<detail::MsgQueue>(capacity);

    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = state->stream.c_str();
    so.Consumer = state->consumer.c_str();
    so.ManualAck = true;
    if (!group.empty()) so.Queue = group.c_str();
    auto* closure = new std::shared_ptr<detail::MsgQueue>(state->queue);
    natsSubscription* sub = nullptr;
    jerr = {};
    s = js_Subscribe(&sub, conn.js.get(), nullptr, &detail::MsgQueue::on_msg, closure, &jo, &so,
                     &jerr);
    if (s != NATS_OK) {
      delete closure;
      detail::throw_status(s, "subscribe to " + state->name(), jerr);
    }
    state->sub.reset(sub);
    natsSubscription_SetOnCompleteCB(sub, &detail::MsgQueue::on_complete, closure);
    // nats.c's default pending limit could drop messages of a slow reader; the server bounds
    // them.
    natsSubscription_SetPendingLimits(sub, -1, -1);
  }

  if (options.auto_ping.count() > 0) {
    state->pinger = std::jthread(
        [weak = std::weak_ptr(state), every = options.auto_ping](std::stop_token stop) {
          std::mutex mu;
          std::condition_variable_any cv;
          for (;;) {
            {
              std::unique_lock lock(mu);
              if (cv.wait_for(lock, stop, every, [] { return false; }) || stop.stop_requested()) {
                return;
              }
            }
            if (auto s = weak.lock()) s->ping_live();
          }
        });
  }
  state_ = std::move(state);
}

Subscription::~Subscription() {
  if (state_) state_->shutdown();
}

Subscription::Subscription(Subscription&&) noexcept = default;

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    if (state_) state_->shutdown();
    state_ = std::move(other.state_);
  }
  return *this;
}

std::optional<Delivery> Subscription::next(std::stop_token stop) {
  return next(std::move(stop), std::chrono::milliseconds(-1));
}

std::optional<Delivery> Subscription::next(std::stop_token stop,
                                           std::chrono::milliseconds timeout) {
  using Steady = std::chrono::steady_clock;
  if (!state_) throw ConfigError("Subscription::next on a moved-from subscription");
  auto& st = *state_;
  const auto deadline = timeout < std::chrono::milliseconds::zero() ? Steady::time_point::max()
                                                                    : Steady::now() + timeout;
  for (;;) {
    auto until = deadline;
    if (st.pull) {
      st.maybe_request();
      // Wake up to renew a pull request, or when a delivery's processing timeout ends (its slot
      // is free then).
      until = std::min(until, st.request_open ? st.request_deadline : st.paused_until);
      if (!st.request_open && st.paused_until <= Steady::now()) {
        until = std::min(until, Steady::now() + std::chrono::milliseconds(100));
      }
    }
    auto msg = st.pop(stop, until);
    if (stop.stop_requested()) return std::nullopt;
    if (!msg) {
      const bool finished = st.queue ? st.queue->finished() : [&] {
        std::lock_guard lock(st.inbox->mu);
        return st.inbox->finished && st.inbox->msgs.empty();
      }();
      if (finished) {
        throw Unavailable("subscription to " + st.name() + " was closed (connection closed?)");
      }
      if (Steady::now() >= deadline) return std::nullopt;
      continue;
    }
    if (st.pull && st.handle_status(msg->get())) continue;
    if (st.pull) ++st.received;

    auto d = std::make_shared<detail::DeliveryState>();
    d->owner = state_;
    if (st.pull) {
      const char* reply = natsMsg_GetReply(msg->get());
      const auto meta = detail::parse_ack_subject(reply != nullptr ? reply : "");
      if (!meta) continue;  // not a JetStream delivery: nothing to acknowledge
      d->reply = reply;
      d->sequence = meta->sequence;
      d->attempt = meta->delivered;
      d->stored = detail::from_unix_nanos(meta->timestamp);
      d->expires = Steady::now() + st.ack_wait;
    } else {
      jsMsgMetaData* raw = nullptr;
      detail::check(natsMsg_GetMetaData(&raw, msg->get()),
                    "read the metadata of a delivery of " + st.name());
      const detail::MetaDataPtr meta(raw);
      d->sequence = meta->Sequence.Stream;
      d->attempt = meta->NumDelivered;
      d->stored = detail::from_unix_nanos(meta->Timestamp);
    }
    d->subject = natsMsg_GetSubject(msg->get());
    d->msg = std::move(*msg);

    if (!st.filters.empty() &&
        std::none_of(st.filters.begin(), st.filters.end(),
                     [&](const std::string& f) { return detail::covers(f, d->subject); })) {
      // Not for this consumer: settled without being handed out. A failed ack only means it
      // comes again (and is skipped again).
      d->ack_async();
      ++st.filtered;
      continue;
    }
    if (st.dead && st.dead->max_deliveries > 0 &&
        d->attempt > static_cast<std::uint64_t>(st.dead->max_deliveries)) {
      try {
        st.dead_letter(*d,
                       "no success in " + std::to_string(st.dead->max_deliveries) +
                           " deliveries (max deliveries reached)",
                       d->attempt - 1);
        d->term();
      } catch (const Error& e) {
        // Left unfinished: it is delivered again after the processing timeout and tried again.
        if (!e.retryable()) throw;
      }
      continue;
    }
    if (st.pull || st.auto_ping.count() > 0) {
      std::lock_guard lock(st.live_mu);
      st.live.push_back(d);
      if (st.pull) {
        st.open.fetch_add(1, std::memory_order_relaxed);
        st.prune_live();
      }
    }
    ++st.delivered;
    return detail::Access::delivery(std::move(d));
  }
}

std::chrono::milliseconds Subscription::processing_timeout() const noexcept {
  return state_ ? state_->ack_wait : std::chrono::milliseconds{};
}

SubscriptionStats Subscription::stats() const {
  if (!state_) return {};
  return SubscriptionStats{.delivered = state_->delivered.load(),
                           .filtered = state_->filtered.load(),
                           .dead_lettered = state_->dead_lettered.load(),
                           .dead_letter_failures = state_->dead_letter_failures.load()};
}

}  // namespace reflex::rnats
