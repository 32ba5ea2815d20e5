// Pull consumers: reading their deliveries' ack subjects, asking for as many events as there is
// room for, the server's status answers, and waiting for messages (push ones too).

#include "subscription/state.hpp"

namespace reflex::rnats::detail {

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
  std::size_t not_finished = 0;
  std::lock_guard lock(live_mu);
  std::erase_if(live, [&](const std::weak_ptr<DeliveryState>& weak) {
    auto d = weak.lock();
    if (!d) return true;
    std::lock_guard dlock(d->mu);
    if (d->finished) return true;
    ++not_finished;
    if (now < d->expires) ++n;
    return false;
  });
  // Deliveries finish under their own lock, which this scan took for each: what it counted is
  // exact, and so is every decrement after it.
  open.store(not_finished, std::memory_order_relaxed);
  return n;
}

void SubscriptionState::prune_live() {
  if (live.size() < 2 * max_in_flight + 64) return;
  std::erase_if(live, [](const std::weak_ptr<DeliveryState>& weak) {
    auto d = weak.lock();
    if (!d) return true;
    std::lock_guard dlock(d->mu);
    return d->finished;
  });
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
  // The count of open deliveries bounds what is busy; only when it says "full" does a scan find
  // out which of them were dropped or timed out (and so free their slots).
  std::size_t busy = open.load(std::memory_order_relaxed) + queued;
  if (busy >= max_in_flight) busy = unfinished() + queued;
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

}  // namespace reflex::rnats::detail
