#pragma once

#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>

#include "handles.hpp"

namespace reflex::rnats::detail {

/// Hands messages from a nats.c delivery thread to our readers, so user code never runs on a
/// nats.c thread. The nats.c callback only queues; when the queue is full it waits, which holds
/// back the subscription (and, with flow control, the server) instead of growing memory.
///
/// Thread-safety: every member may be called from any thread.
class MsgQueue final {
 public:
  explicit MsgQueue(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  /// Called on the nats.c delivery thread; takes ownership of msg.
  void push(natsMsg* msg) {
    MsgPtr owned(msg);
    std::unique_lock lock(mu_);
    room_.wait(lock, [&] { return closed_ || msgs_.size() < capacity_; });
    if (closed_) return;
    msgs_.push_back(std::move(owned));
    ready_.notify_all();
  }

  /// The next message; waits until one arrives, the subscription finishes (nullopt), stop is
  /// requested (nullopt) or `timeout` passes (nullopt; a negative timeout waits without limit).
  std::optional<MsgPtr> pop(std::stop_token stop,
                            std::chrono::milliseconds timeout = std::chrono::milliseconds(-1)) {
    std::unique_lock lock(mu_);
    const auto ready = [&] { return !msgs_.empty() || finished_; };
    if (timeout < std::chrono::milliseconds::zero()) {
      ready_.wait(lock, stop, ready);
    } else {
      ready_.wait_for(lock, stop, timeout, ready);
    }
    if (msgs_.empty()) return std::nullopt;
    MsgPtr msg = std::move(msgs_.front());
    msgs_.pop_front();
    room_.notify_one();
    return msg;
  }

  /// A message if one is queued, without waiting.
  std::optional<MsgPtr> try_pop() {
    std::lock_guard lock(mu_);
    if (msgs_.empty()) return std::nullopt;
    MsgPtr msg = std::move(msgs_.front());
    msgs_.pop_front();
    room_.notify_one();
    return msg;
  }

  [[nodiscard]] bool empty() const {
    std::lock_guard lock(mu_);
    return msgs_.empty();
  }

  [[nodiscard]] bool finished() const {
    std::lock_guard lock(mu_);
    return finished_ && msgs_.empty();
  }

  /// Readers are gone: drop what is queued and release a waiting delivery thread.
  void close() {
    std::deque<MsgPtr> dropped;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      dropped.swap(msgs_);
    }
    room_.notify_all();
    ready_.notify_all();
  }

  /// The subscription ended (nats.c will deliver nothing more).
  void finish() {
    {
      std::lock_guard lock(mu_);
      finished_ = true;
    }
    ready_.notify_all();
  }

  /// nats.c callbacks: the closure is a heap-allocated shared_ptr<MsgQueue>, released by
  /// on_complete once nats.c guarantees no further callback (so the queue outlives them all).
  static void on_msg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    (*static_cast<std::shared_ptr<MsgQueue>*>(closure))->push(msg);
  }
  static void on_complete(void* closure) {
    auto* queue = static_cast<std::shared_ptr<MsgQueue>*>(closure);
    (*queue)->finish();
    delete queue;
  }

 private:
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable_any ready_;
  std::condition_variable room_;
  std::deque<MsgPtr> msgs_;
  bool closed_ = false;
  bool finished_ = false;
};

}  // namespace reflex::rnats::detail
