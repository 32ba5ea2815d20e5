#pragma once
// The state behind a Subscription and its Deliveries (rnats/include/reflex/rnats/streams.hpp),
// shared by the files of this folder: pull.cpp (asking a pull consumer for events and waiting
// for them), delivery.cpp (ack, reject, ping), dead_letters.cpp and subscription.cpp (subscribing
// and next()).
//
// Push consumers are subscribed through nats.c's JetStream layer (js_Subscribe). Pull consumers
// are fetched below it: one plain subscription on an inbox of ours, pull requests published from
// next() with a reply subject per request, and acknowledgements sent to each message's reply
// subject (the JetStream ack protocol: +ACK, -NAK, +WPI, +TERM). That keeps every wait inside
// next() interruptible by its stop token, needs no thread per subscription and lets next() ask
// for exactly as many events as the subscriber has room for.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
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
#include "subjects.hpp"

namespace reflex::rnats::detail {

using Steady = std::chrono::steady_clock;

// A pull request asks for events for this long; one that is lost (a server restart) is noticed
// after it plus the grace, or at once after a reconnect.
inline constexpr auto kPullExpiry = std::chrono::seconds(5);
inline constexpr auto kPullGrace = std::chrono::seconds(1);
// After a refused pull request (409), wait this long before the next.
inline constexpr auto kPullPause = std::chrono::milliseconds(200);

inline std::string natsms(std::chrono::nanoseconds d) {
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

[[nodiscard]] std::optional<AckMeta> parse_ack_subject(std::string_view reply);

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
  // Pull: deliveries handed out and not finished (an upper bound of unfinished(): dropped and
  // timed-out ones count until a scan finds them). Lets next() skip the scan while there is room.
  std::atomic<std::size_t> open{0};
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
  // Deliveries handed out, not finished and within their processing timeout (a scan of `live`,
  // which also sets `open` to what it found handed out and not finished).
  std::size_t unfinished();
  // Drops finished and dropped deliveries from `live` once it has grown past what is in flight
  // (amortized: the scan runs once per max_in_flight deliveries). Under live_mu.
  void prune_live();
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
  std::uint64_t sequence = 0;
  std::uint64_t attempt = 0;
  std::chrono::system_clock::time_point stored{};

  std::mutex mu;
  bool finished = false;
  Steady::time_point expires{};  // pull: when the processing timeout runs out (ping renews)

  [[nodiscard]] std::string name() const {
    return "event " + std::to_string(sequence) + " of " + owner->name();
  }
  // The payload and headers, copied out of the message when first asked for (Delivery::data and
  // headers, a dead letter): a reader that decodes the message itself (event(),
  // windshift_event()) pays for no second copy and no map of headers per event.
  const std::string& data() const {
    copy_out();
    return data_;
  }
  const Headers& headers() const {
    copy_out();
    return headers_;
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
  // Under `mu` (every Delivery method holds it), so that a scan of the owner's deliveries sees
  // `finished` and the count of open ones change together.
  void finish() {
    finished = true;
    if (owner->pull) owner->open.fetch_sub(1, std::memory_order_relaxed);
    owner->wake();
  }

 private:
  void copy_out() const {
    std::call_once(copied_, [this] {
      if (const char* bytes = natsMsg_GetData(msg.get()); bytes != nullptr) {
        data_.assign(bytes, static_cast<std::size_t>(natsMsg_GetDataLength(msg.get())));
      }
      headers_ = read_headers(msg.get());
    });
  }
  mutable std::once_flag copied_;
  mutable std::string data_;
  mutable Headers headers_;
};

}  // namespace reflex::rnats::detail
