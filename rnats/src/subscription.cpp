#include <mutex>
#include <thread>
#include <vector>

#include "access.hpp"
#include "codec.hpp"
#include "connection_state.hpp"
#include "msg_queue.hpp"
#include "reflex/errors.hpp"
#include "reflex/rnats/errors.hpp"
#include "reflex/rnats/streams.hpp"
#include "status.hpp"

namespace reflex::rnats {

namespace detail {

struct SubscriptionState {
  std::shared_ptr<ConnectionState> conn;
  std::shared_ptr<MsgQueue> queue;
  SubscriptionPtr sub;
  std::string stream;
  std::string consumer;
  std::chrono::milliseconds auto_ping{};

  std::mutex live_mu;
  std::vector<std::weak_ptr<DeliveryState>> live;
  std::jthread pinger;

  [[nodiscard]] std::string name() const {
    return "consumer \"" + consumer + "\" of stream \"" + stream + "\"";
  }

  // Ends deliveries to this subscriber; acks of deliveries already handed out still work
  // (they keep this state, and with it the nats.c subscription, alive).
  void shutdown() {
    if (pinger.joinable()) {
      pinger.request_stop();
      pinger.join();
    }
    queue->close();
    if (sub) natsSubscription_Unsubscribe(sub.get());
  }

  void ping_live();
};

struct DeliveryState {
  std::shared_ptr<SubscriptionState> owner;
  MsgPtr msg;
  std::string subject;
  std::string data;
  Headers headers;
  std::uint64_t sequence = 0;
  std::uint64_t attempt = 0;
  std::chrono::system_clock::time_point stored{};

  std::mutex mu;
  bool finished = false;

  [[nodiscard]] std::string name() const {
    return "event " + std::to_string(sequence) + " of " + owner->name();
  }
  void require_open(std::string_view action) const {
    if (finished) {
      throw ConfigError("cannot " + std::string(action) + " " + name() +
                        ": it was already acknowledged or rejected");
    }
  }
};

void SubscriptionState::ping_live() {
  std::vector<std::shared_ptr<DeliveryState>> targets;
  {
    std::lock_guard lock(live_mu);
    std::erase_if(live, [&](const std::weak_ptr<DeliveryState>& weak) {
      auto d = weak.lock();
      if (!d) return true;
      targets.push_back(std::move(d));
      return false;
    });
  }
  for (const auto& d : targets) {
    std::lock_guard lock(d->mu);
    // A failed ping is not fatal: the event is redelivered, as if the pinger were slow.
    if (!d->finished) natsMsg_InProgress(d->msg.get(), nullptr);
  }
}

}  // namespace detail

Delivery::Delivery(std::shared_ptr<detail::DeliveryState> state) : state_(std::move(state)) {}

const std::string& Delivery::subject() const noexcept {
  return state_->subject;
}
const std::string& Delivery::data() const noexcept {
  return state_->data;
}
const Headers& Delivery::headers() const noexcept {
  return state_->headers;
}
std::uint64_t Delivery::sequence() const noexcept {
  return state_->sequence;
}
std::uint64_t Delivery::attempt() const noexcept {
  return state_->attempt;
}
std::chrono::system_clock::time_point Delivery::stored() const noexcept {
  return state_->stored;
}

Event Delivery::event() const {
  return detail::message_event(state_->msg.get(), state_->sequence, state_->stored);
}

void Delivery::ack() {
  auto& d = *state_;
  std::lock_guard lock(d.mu);
  d.require_open("acknowledge");
  jsOptions jo = d.owner->conn->js_options();
  jsErrCode jerr{};
  detail::check(natsMsg_AckSync(d.msg.get(), &jo, &jerr), "acknowledge " + d.name(), jerr);
  d.finished = true;
}

void Delivery::reject(const RejectOptions& options) {
  auto& d = *state_;
  std::lock_guard lock(d.mu);
  d.require_open("reject");
  natsStatus s = NATS_OK;
  if (options.permanently) {
    s = natsMsg_Term(d.msg.get(), nullptr);
  } else if (options.delay.count() > 0) {
    s = natsMsg_NakWithDelay(d.msg.get(), options.delay.count(), nullptr);
  } else {
    s = natsMsg_Nak(d.msg.get(), nullptr);
  }
  detail::check(s, "reject " + d.name());
  d.finished = true;
}

void Delivery::ping() {
  auto& d = *state_;
  std::lock_guard lock(d.mu);
  d.require_open("ping");
  detail::check(natsMsg_InProgress(d.msg.get(), nullptr), "ping " + d.name());
}

bool Delivery::finished() const {
  std::lock_guard lock(state_->mu);
  return state_->finished;
}

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
  if (info->Config == nullptr || info->Config->DeliverSubject == nullptr) {
    throw ConfigError("subscribe to " + state->name() +
                      ": it is a pull consumer; this API needs a push consumer (ensure_consumer)");
  }
  const std::string group =
      info->Config->DeliverGroup != nullptr ? info->Config->DeliverGroup : std::string{};
  // Bounded by the consumer's max_pending on the server; the queue just needs to hold that.
  const auto capacity =
      static_cast<std::size_t>(std::max<std::int64_t>(info->Config->MaxAckPending, 64));
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
  // nats.c's default pending limit could drop messages of a slow reader; the server bounds them.
  natsSubscription_SetPendingLimits(sub, -1, -1);

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
  if (!state_) throw ConfigError("Subscription::next on a moved-from subscription");
  auto& st = *state_;
  auto msg = st.queue->pop(stop, timeout);
  if (!msg) {
    if (!stop.stop_requested() && st.queue->finished()) {
      throw Unavailable("subscription to " + st.name() + " was closed (connection closed?)");
    }
    return std::nullopt;
  }
  auto d = std::make_shared<detail::DeliveryState>();
  d->owner = state_;
  jsMsgMetaData* raw = nullptr;
  detail::check(natsMsg_GetMetaData(&raw, msg->get()),
                "read the metadata of a delivery of " + st.name());
  const detail::MetaDataPtr meta(raw);
  d->sequence = meta->Sequence.Stream;
  d->attempt = meta->NumDelivered;
  d->stored = detail::from_unix_nanos(meta->Timestamp);
  d->subject = natsMsg_GetSubject(msg->get());
  if (const char* data = natsMsg_GetData(msg->get()); data != nullptr) {
    d->data.assign(data, static_cast<std::size_t>(natsMsg_GetDataLength(msg->get())));
  }
  d->headers = detail::read_headers(msg->get());
  d->msg = std::move(*msg);
  if (st.auto_ping.count() > 0) {
    std::lock_guard lock(st.live_mu);
    st.live.push_back(d);
  }
  return detail::Access::delivery(std::move(d));
}

}  // namespace reflex::rnats
