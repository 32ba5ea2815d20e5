// Subscriptions to push and pull consumers, their deliveries (ack, reject, ping), filtering of
// several subjects and dead letters.
//
// Push consumers are subscribed through nats.c's JetStream layer (js_Subscribe). Pull consumers
// are fetched below it: one plain subscription on an inbox of ours, pull requests published from
// next() with a reply subject per request, and acknowledgements sent to each message's reply
// subject (the JetStream ack protocol: +ACK, -NAK, +WPI, +TERM). That keeps every wait inside
// next() interruptible by its stop token, needs no thread per subscription and lets next() ask
// for exactly as many events as the subscriber has room for.

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "access.hpp"
#include "codec.hpp"
#include "connection_state.hpp"
#include "msg_queue.hpp"
#include "reflex/encoding.hpp"
#include "reflex/errors.hpp"
#include "reflex/rnats/errors.hpp"
#include "reflex/rnats/streams.hpp"
#include "status.hpp"
#include "subjects.hpp"

namespace reflex::rnats {

namespace detail {

namespace {

using Steady = std::chrono::steady_clock;

// A pull request asks for events for this long; one that is lost (a server restart) is noticed
// after it plus the grace, or at once after a reconnect.
constexpr auto kPullExpiry = std::chrono::seconds(5);
constexpr auto kPullGrace = std::chrono::seconds(1);
// After a refused pull request (409), wait this long before the next.
constexpr auto kPullPause = std::chrono::milliseconds(200);

std::string natsms(std::chrono::nanoseconds d) {
  return std::to_string(d.count());
}

// What the reply subject of a JetStream delivery says about it:
// $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>, or since
// nats-server 2.9 with "<domain>.<account hash>." after "$JS.ACK." (and a random token at the end).
struct AckMeta {
  std::uint64_t delivered = 0;
  std::uint64_t sequence = 0;
  std::int64_t timestamp = 0;
};

std::optional<AckMeta> parse_ack_subject(std::string_view reply) {
  std::vector<std::string_view> t;
  std::size_t start = 0;
  for (;;) {
    const auto dot = reply.find('.', start);
    t.push_back(reply.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (t.size() < 9 || t[0] != "$JS" || t[1] != "ACK") return std::nullopt;
  const std::size_t base = t.size() == 9 ? 4 : 6;  // index of <delivered>
  if (t.size() != 9 && t.size() < 11) return std::nullopt;
  const auto delivered = parse_int64(t[base]);
  const auto sequence = parse_int64(t[base + 1]);
  const auto timestamp = parse_int64(t[base + 3]);
  if (!delivered || !sequence || !timestamp) return std::nullopt;
  return AckMeta{.delivered = static_cast<std::uint64_t>(*delivered),
                 .sequence = static_cast<std::uint64_t>(*sequence),
                 .timestamp = *timestamp};
}

}  // namespace

/// Messages of a pull subscription (events and the server's status answers), handed from the
/// nats.c callback to next(). `poke` wakes next() to look again (a delivery was finished, so
/// there may be room to ask for more).
struct PullInbox {
  std::mutex mu;
  std::condition_variable_any cv;
  std::deque<MsgPtr> msgs;
  std::uint64_t pokes = 0;
  bool finished = false;

  void poke() {
    {
      std::lock_guard lock(mu);
      ++pokes;
    }
    cv.notify_all();
  }

  static void on_msg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    MsgPtr owned(msg);
    auto& inbox = **static_cast<std::shared_ptr<PullInbox>*>(closure);
    {
      std::lock_guard lock(inbox.mu);
      inbox.msgs.push_back(std::move(owned));
    }
    inbox.cv.notify_all();
  }
  static void on_complete(void* closure) {
    auto* inbox = static_cast<std::shared_ptr<PullInbox>*>(closure);
    {
      std::lock_guard lock((*inbox)->mu);
      (*inbox)->finished = true;
    }
    (*inbox)->cv.notify_all();
    delete inbox;
  }
};

struct SubscriptionState {
  std::shared_ptr<ConnectionState> conn;
  std::string stream;
  std::string consumer;
  std::chrono::milliseconds auto_ping{};
  std::chrono::milliseconds ack_wait{};
  bool pull = false;
  std::size_t max_in_flight = 0;
  // The consumer's filter_subjects when the server cannot filter by them (empty: it does).
  std::vector<std::string> filters;
  std::optional<DeadLetterOptions> dead;  // its stream resolved

  // Push consumers.
  std::shared_ptr<MsgQueue> queue;
  // Pull consumers: the inbox subscription and the one outstanding pull request (next() only).
  std::shared_ptr<PullInbox> inbox;
  std::string inbox_prefix;
  std::string next_subject;
  std::uint64_t request_number = 0;
  bool request_open = false;
  std::size_t requested = 0;
  std::size_t received = 0;
  Steady::time_point request_deadline{};
  std::uint64_t request_reconnects = 0;
  Steady::time_point paused_until{};

  SubscriptionPtr sub;

  std::mutex live_mu;
  std::vector<std::weak_ptr<DeliveryState>> live;
  std::jthread pinger;

  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> filtered{0};
  std::atomic<std::uint64_t> dead_lettered{0};
  std::atomic<std::uint64_t> dead_letter_failures{0};

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
    if (queue) queue->close();
    if (sub) natsSubscription_Unsubscribe(sub.get());
  }

  void wake() {
    if (inbox) inbox->poke();
  }

  void ping_live();
  // Deliveries handed out, not finished and within their processing timeout.
  std::size_t unfinished();
  void maybe_request();
  // Handles a status message of a pull request; false when `msg` is an event.
  bool handle_status(natsMsg* msg);
  std::optional<MsgPtr> pop(std::stop_token& stop, Steady::time_point until);
  // Copies the delivery to the dead-letter stream (throws when that fails); does not finish it.
  void dead_letter(DeliveryState& d, const std::string& reason, std::uint64_t attempts);
};

struct DeliveryState {
  std::shared_ptr<SubscriptionState> owner;
  MsgPtr msg;
  std::string reply;  // pull deliveries: where acknowledgements go
  std::string subject;
  std::string data;
  Headers headers;
  std::uint64_t sequence = 0;
  std::uint64_t attempt = 0;
  std::chrono::system_clock::time_point stored{};

  std::mutex mu;
  bool finished = false;
  Steady::time_point expires{};  // pull: when the processing timeout runs out (ping renews)

  [[nodiscard]] std::string name() const {
    return "event " + std::to_string(sequence) + " of " + owner->name();
  }
  void require_open(std::string_view action) const {
    if (finished) {
      throw ConfigError("cannot " + std::string(action) + " " + name() +
                        ": it was already acknowledged or rejected");
    }
  }

  // The JetStream ack protocol: through nats.c for push deliveries, by hand for pull ones.
  natsStatus send(const char* verb) {
    return natsConnection_Publish(owner->conn->nc.get(), reply.c_str(), verb,
                                  static_cast<int>(std::char_traits<char>::length(verb)));
  }
  void ack_sync() {
    if (reply.empty()) {
      jsOptions jo = owner->conn->js_options();
      jsErrCode jerr{};
      check(natsMsg_AckSync(msg.get(), &jo, &jerr), "acknowledge " + name(), jerr);
      return;
    }
    natsMsg* response = nullptr;
    const natsStatus s =
        natsConnection_RequestString(&response, owner->conn->nc.get(), reply.c_str(), "+ACK",
                                     owner->conn->options.request_timeout.count());
    const MsgPtr owned(response);
    check(s, "acknowledge " + name());
  }
  natsStatus ack_async() { return reply.empty() ? natsMsg_Ack(msg.get(), nullptr) : send("+ACK"); }
  natsStatus progress() {
    if (reply.empty()) return natsMsg_InProgress(msg.get(), nullptr);
    expires = Steady::now() + owner->ack_wait;
    return send("+WPI");
  }
  natsStatus term() { return reply.empty() ? natsMsg_Term(msg.get(), nullptr) : send("+TERM"); }
  natsStatus nak(std::chrono::milliseconds delay) {
    if (reply.empty()) {
      return delay.count() > 0 ? natsMsg_NakWithDelay(msg.get(), delay.count(), nullptr)
                               : natsMsg_Nak(msg.get(), nullptr);
    }
    if (delay.count() <= 0) return send("-NAK");
    const std::string body =
        "-NAK {\"delay\":" + natsms(std::chrono::duration_cast<std::chrono::nanoseconds>(delay)) +
        "}";
    return natsConnection_Publish(owner->conn->nc.get(), reply.c_str(), body.data(),
                                  static_cast<int>(body.size()));
  }
  void finish() {
    finished = true;
    owner->wake();
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
    if (!d->finished) d->progress();
  }
}

std::size_t SubscriptionState::unfinished() {
  const auto now = Steady::now();
  std::size_t n = 0;
  std::lock_guard lock(live_mu);
  std::erase_if(live, [&](const std::weak_ptr<DeliveryState>& weak) {
    auto d = weak.lock();
    if (!d) return true;
    std::lock_guard dlock(d->mu);
    if (d->finished) return true;
    if (now < d->expires) ++n;
    return false;
  });
  return n;
}

void SubscriptionState::maybe_request() {
  const auto now = Steady::now();
  if (now < paused_until) return;
  if (request_open) {
    const bool reconnected =
        Connection(Access::connection(conn)).reconnects() != request_reconnects;
    if (received < requested && now < request_deadline && !reconnected) return;
    request_open = false;
  }
  std::size_t queued = 0;
  {
    std::lock_guard lock(inbox->mu);
    queued = inbox->msgs.size();
  }
  const std::size_t busy = unfinished() + queued;
  if (busy >= max_in_flight) return;
  const std::size_t batch = max_in_flight - busy;
  const std::string reply = inbox_prefix + "." + std::to_string(++request_number);
  const std::string body =
      "{\"batch\":" + std::to_string(batch) +
      ",\"expires\":" + natsms(std::chrono::duration_cast<std::chrono::nanoseconds>(kPullExpiry)) +
      "}";
  request_reconnects = Connection(Access::connection(conn)).reconnects();
  // Fails only when the connection is closed; then the inbox finishes and next() says so.
  natsConnection_PublishRequest(conn->nc.get(), next_subject.c_str(), reply.c_str(), body.data(),
                                static_cast<int>(body.size()));
  request_open = true;
  requested = batch;
  received = 0;
  request_deadline = now + kPullExpiry + kPullGrace;
}

bool SubscriptionState::handle_status(natsMsg* msg) {
  const std::string status = header_value(msg, "Status");
  if (status.empty() || natsMsg_GetDataLength(msg) > 0) return false;
  // Answers to an earlier pull request than the current one change nothing.
  const std::string_view subject = natsMsg_GetSubject(msg);
  const bool current = subject == inbox_prefix + "." + std::to_string(request_number);
  if (status == "100") return true;  // heartbeat
  const std::string description = header_value(msg, "Description");
  if (status == "409" && description.find("Deleted") != std::string::npos) {
    throw NotFound(name() + " was deleted");
  }
  if (status == "409" && description.find("push") != std::string::npos) {
    throw ConfigError(name() + " is a push consumer: " + description);
  }
  if (current) {
    request_open = false;  // expired (408), nothing there (404) or refused (409)
    if (status == "409") paused_until = Steady::now() + kPullPause;
  }
  return true;
}

std::optional<MsgPtr> SubscriptionState::pop(std::stop_token& stop, Steady::time_point until) {
  if (queue) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Steady::now());
    return queue->pop(stop, until == Steady::time_point::max() ? std::chrono::milliseconds(-1)
                                                               : std::max(left, {}));
  }
  std::unique_lock lock(inbox->mu);
  const std::uint64_t pokes = inbox->pokes;
  const auto ready = [&] {
    return !inbox->msgs.empty() || inbox->finished || inbox->pokes != pokes;
  };
  if (until == Steady::time_point::max()) {
    inbox->cv.wait(lock, stop, ready);
  } else {
    inbox->cv.wait_until(lock, stop, until, ready);
  }
  if (inbox->msgs.empty()) return std::nullopt;
  MsgPtr msg = std::move(inbox->msgs.front());
  inbox->msgs.pop_front();
  return msg;
}

void SubscriptionState::dead_letter(DeliveryState& d, const std::string& reason,
                                    std::uint64_t attempts) {
  const std::string& target = dead->stream;
  OutgoingEvent out;
  out.subject = target + "." + consumer + "." + d.subject;
  out.data = d.data;
  for (const auto& [key, value] : d.headers) {
    // JetStream's own headers (the id, publish expectations) belong to the original publish.
    if (key.rfind("Nats-", 0) == 0) continue;
    out.headers[key] = value;
  }
  if (auto it = d.headers.find(header::msg_id); it != d.headers.end()) {
    out.headers[header::dead_letter_msg_id] = it->second;
  }
  out.headers[header::dead_letter_stream] = stream;
  out.headers[header::dead_letter_subject] = d.subject;
  out.headers[header::dead_letter_sequence] = std::to_string(d.sequence);
  out.headers[header::dead_letter_consumer] = consumer;
  out.headers[header::dead_letter_reason] = encode_header_value(reason);
  out.headers[header::dead_letter_attempts] = std::to_string(attempts);
  out.headers[header::dead_letter_time] = format_rfc3339(std::chrono::system_clock::now());
  out.idempotency_key = "dead-letter:" + stream + ":" + consumer + ":" + std::to_string(d.sequence);
  const Connection connection(Access::connection(conn));
  try {
    try {
      publish(connection, out);
    } catch (const NoStreamForSubject&) {
      // Created on demand, on the first dead letter.
      ensure_stream(connection, {.name = target,
                                 .description = "dead letters of stream " + stream,
                                 .subjects = {target + ".>"},
                                 .storage = dead->storage,
                                 .duplicate_window = std::chrono::minutes(2)});
      publish(connection, out);
    }
  } catch (...) {
    ++dead_letter_failures;
    throw;
  }
  ++dead_lettered;
}

}  // namespace detail

std::string dead_letter_stream(std::string_view stream) {
  return std::string(stream) + "-dead-letters";
}

OutgoingEvent replay_message(const Delivery& dead_letter) {
  const auto& h = dead_letter.headers();
  const auto subject = h.find(header::dead_letter_subject);
  const auto origin = h.find(header::dead_letter_stream);
  if (subject == h.end() || origin == h.end()) {
    throw ConfigError("replay_message: event " + std::to_string(dead_letter.sequence()) + " on \"" +
                      dead_letter.subject() + "\" is no dead letter (it has no " +
                      header::dead_letter_subject + " header)");
  }
  OutgoingEvent out;
  out.subject = subject->second;
  out.data = dead_letter.data();
  for (const auto& [key, value] : h) {
    if (key.rfind("Reflex-Dead-Letter-", 0) == 0 || key.rfind("Nats-", 0) == 0) continue;
    out.headers[key] = value;
  }
  // The dead letter's own stream is the first token of its subject.
  const std::string& dl_subject = dead_letter.subject();
  out.idempotency_key = "replay:" + dl_subject.substr(0, dl_subject.find('.')) + ":" +
                        std::to_string(dead_letter.sequence());
  return out;
}

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

WindshiftEvent Delivery::windshift_event() const {
  return detail::windshift_event(state_->msg.get(), state_->sequence, state_->stored);
}

void Delivery::ack() {
  auto& d = *state_;
  std::lock_guard lock(d.mu);
  d.require_open("acknowledge");
  d.ack_sync();
  d.finish();
}

void Delivery::ack_nowait() {
  auto& d = *state_;
  std::lock_guard lock(d.mu);
  d.require_open("acknowledge");
  detail::check(d.ack_async(), "acknowledge " + d.name());
  d.finish();
}

void Delivery::reject(const RejectOptions& options) {
  auto& d = *state_;
  std::lock_guard lock(d.mu);
  d.require_open("reject");
  const auto& dead = d.owner->dead;
  const bool last_attempt = dead && dead->max_deliveries > 0 &&
                            d.attempt >= static_cast<std::uint64_t>(dead->max_deliveries);
  if (dead && (options.permanently || last_attempt)) {
    std::string reason = options.reason.empty() ? "rejected" : options.reason;
    if (options.permanently) {
      reason += " (permanently)";
    } else {
      reason += " on delivery " + std::to_string(d.attempt) + " of at most " +
                std::to_string(dead->max_deliveries);
    }
    d.owner->dead_letter(d, reason, d.attempt);
    // Copied: a failed terminate only means one more delivery, dead-lettered again (once: the
    // copy's id is the same).
    d.term();
    d.finish();
    return;
  }
  natsStatus s = NATS_OK;
  if (options.permanently) {
    s = d.term();
  } else {
    s = d.nak(options.delay);
  }
  detail::check(s, "reject " + d.name());
  d.finish();
}

void Delivery::ping() {
  auto& d = *state_;
  std::lock_guard lock(d.mu);
  d.require_open("ping");
  detail::check(d.progress(), "ping " + d.name());
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
    if (const char* data = natsMsg_GetData(msg->get()); data != nullptr) {
      d->data.assign(data, static_cast<std::size_t>(natsMsg_GetDataLength(msg->get())));
    }
    d->headers = detail::read_headers(msg->get());
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
