// A Delivery: what it carries, and acknowledging, rejecting (to the dead-letter stream when it
// fails for good) and pinging it.

#include "subscription/state.hpp"

namespace reflex::rnats {

Delivery::Delivery(std::shared_ptr<detail::DeliveryState> state) : state_(std::move(state)) {}

const std::string& Delivery::subject() const noexcept {
  return state_->subject;
}
const std::string& Delivery::data() const {
  return state_->data();
}
const Headers& Delivery::headers() const {
  return state_->headers();
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

}  // namespace reflex::rnats
