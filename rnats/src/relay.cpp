// rnats::Relay: options, stats and one RelaySession per run (relay/session.cpp, recovery.cpp).
#include "reflex/rnats/relay.hpp"

#include "reflex/errors.hpp"
#include "relay/session.hpp"

namespace reflex::rnats {

namespace {

void check_options(const RelayOptions& o) {
  if (o.name.empty()) throw ConfigError("Relay: RelayOptions.name is empty; name the relay");
  if (o.name.find_first_of(" \t\r\n") != std::string::npos) {
    throw ConfigError("Relay: name \"" + o.name + "\" must not contain spaces or line breaks");
  }
  if (!o.source) throw ConfigError("Relay \"" + o.name + "\": RelayOptions.source is empty");
  if (o.stream.empty()) throw ConfigError("Relay \"" + o.name + "\": RelayOptions.stream is empty");
  if (o.subject.empty() == o.subject_prefix.empty()) {
    throw ConfigError("Relay \"" + o.name +
                      "\": set exactly one of RelayOptions.subject and subject_prefix");
  }
  if (o.max_in_flight == 0 || o.read_ahead == 0) {
    throw ConfigError("Relay \"" + o.name + "\": max_in_flight and read_ahead must be positive");
  }
  if (o.ack_timeout <= std::chrono::milliseconds::zero() ||
      o.retry_backoff <= std::chrono::milliseconds::zero() ||
      o.max_retry_backoff < o.retry_backoff) {
    throw ConfigError("Relay \"" + o.name +
                      "\": ack_timeout and retry_backoff must be positive, max_retry_backoff at "
                      "least retry_backoff");
  }
}

}  // namespace

Relay::Relay(Connection connection, RelayOptions options)
    : connection_(std::move(connection)),
      options_(std::move(options)),
      state_(std::make_shared<detail::RelayState>()) {
  check_options(options_);
}

Relay::~Relay() = default;

void Relay::run(std::stop_token stop) {
  {
    std::lock_guard lock(state_->mu);
    state_->incoming.clear();
    state_->reader_error = nullptr;
    state_->last_read.clear();
  }
  detail::RelaySession session(connection_, options_, state_, std::move(stop));
  session.run();
}

RelayStats Relay::stats() const {
  std::lock_guard lock(state_->mu);
  return state_->stats;
}

bool Relay::wait_for(std::stop_token stop,
                     const std::function<bool(const RelayStats&)>& reached) const {
  std::unique_lock lock(state_->mu);
  return state_->progress.wait(lock, stop, [&] { return reached(state_->stats); });
}

}  // namespace reflex::rnats
