// NATS core publish / subscribe (see core.hpp): a subscription's nats.c callback only queues
// (MsgQueue); next() takes from the queue on the caller's thread.

#include "reflex/rnats/core.hpp"

#include <nats/nats.h>

#include "access.hpp"
#include "connection_state.hpp"
#include "handles.hpp"
#include "msg_queue.hpp"
#include "reflex/errors.hpp"
#include "status.hpp"

namespace reflex::rnats {
namespace detail {

struct CoreSubscriptionState {
  std::shared_ptr<ConnectionState> conn;
  std::shared_ptr<MsgQueue> queue;
  SubscriptionPtr sub;
  std::string subject;

  void unsubscribe() noexcept {
    queue->close();
    // The queue is released by on_complete once nats.c has delivered its last callback.
    if (sub) natsSubscription_Unsubscribe(sub.get());
  }
};

namespace {

/// Tokens of one or more characters without white space, split by single '.'; with
/// `wildcards`, a token may be '*' and the last one '>'.
bool valid_subject(std::string_view subject, bool wildcards) {
  if (subject.empty()) return false;
  std::size_t start = 0;
  while (true) {
    const auto dot = subject.find('.', start);
    const auto token =
        subject.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (token.empty()) return false;
    for (const char c : token) {
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') return false;
    }
    const bool last = dot == std::string_view::npos;
    if (token.find_first_of("*>") != std::string_view::npos) {
      if (!wildcards || token.size() != 1 || (token == ">" && !last)) return false;
    }
    if (last) return true;
    start = dot + 1;
  }
}

}  // namespace
}  // namespace detail

void publish_core(const Connection& connection, std::string_view subject, std::string_view data) {
  if (!detail::valid_subject(subject, false)) {
    throw ConfigError("NATS publish: invalid subject \"" + std::string(subject) + "\"");
  }
  const auto& conn = detail::Access::state(connection);
  const std::string name(subject);
  detail::check(natsConnection_Publish(conn->nc.get(), name.c_str(), data.data(),
                                       static_cast<int>(data.size())),
                "NATS publish on \"" + name + "\"");
}

CoreSubscription::CoreSubscription(const Connection& connection, std::string_view subject,
                                   const CoreSubscribeOptions& options)
    : state_(std::make_unique<detail::CoreSubscriptionState>()) {
  if (!detail::valid_subject(subject, true)) {
    throw ConfigError("NATS subscribe: invalid subject \"" + std::string(subject) + "\"");
  }
  if (options.queue_group.find_first_of(" \t\r\n.*>") != std::string::npos) {
    throw ConfigError("NATS subscribe: invalid queue group \"" + options.queue_group + "\"");
  }
  state_->conn = detail::Access::state(connection);
  state_->queue = std::make_shared<detail::MsgQueue>(options.buffer);
  state_->subject = std::string(subject);
  natsConnection* nc = state_->conn->nc.get();
  auto* closure = new std::shared_ptr<detail::MsgQueue>(state_->queue);
  natsSubscription* sub = nullptr;
  const natsStatus s = options.queue_group.empty()
                           ? natsConnection_Subscribe(&sub, nc, state_->subject.c_str(),
                                                      &detail::MsgQueue::on_msg, closure)
                           : natsConnection_QueueSubscribe(&sub, nc, state_->subject.c_str(),
                                                           options.queue_group.c_str(),
                                                           &detail::MsgQueue::on_msg, closure);
  if (s != NATS_OK) {
    delete closure;
    detail::throw_status(s, "NATS subscribe to \"" + state_->subject + "\"");
  }
  state_->sub.reset(sub);
  natsSubscription_SetOnCompleteCB(sub, &detail::MsgQueue::on_complete, closure);
  const auto timeout = state_->conn->options.request_timeout.count();
  if (const natsStatus f = natsConnection_FlushTimeout(nc, timeout); f != NATS_OK) {
    state_->unsubscribe();
    detail::throw_status(f, "NATS subscribe to \"" + state_->subject + "\": confirm");
  }
}

CoreSubscription::~CoreSubscription() {
  if (state_) state_->unsubscribe();
}

CoreSubscription::CoreSubscription(CoreSubscription&&) noexcept = default;

CoreSubscription& CoreSubscription::operator=(CoreSubscription&& other) noexcept {
  if (this != &other) {
    if (state_) state_->unsubscribe();
    state_ = std::move(other.state_);
  }
  return *this;
}

std::optional<CoreMessage> CoreSubscription::next(std::stop_token stop,
                                                  std::chrono::milliseconds timeout) {
  auto msg = state_->queue->pop(stop, timeout);
  if (!msg) {
    if (state_->queue->finished() || !state_->sub) {
      throw Unavailable("NATS subscription to \"" + state_->subject + "\" ended");
    }
    return std::nullopt;
  }
  const char* data = natsMsg_GetData(msg->get());
  return CoreMessage{
      .subject = natsMsg_GetSubject(msg->get()),
      .data = std::string(data, static_cast<std::size_t>(natsMsg_GetDataLength(msg->get())))};
}

void CoreSubscription::unsubscribe() {
  state_->unsubscribe();
  state_->sub.reset();
}

}  // namespace reflex::rnats
