// AsyncPublisher: JetStream publishes answered on an AckInbox (ack_inbox.hpp), each waiting in a
// table by its reply number until its acknowledgement, or its deadline (a timer thread), ends it.

#include "reflex/rnats/publisher.hpp"

#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "access.hpp"
#include "ack_inbox.hpp"
#include "codec.hpp"
#include "connection_state.hpp"
#include "reflex/errors.hpp"
#include "reflex/rnats/errors.hpp"
#include "status.hpp"

namespace reflex::rnats {

namespace detail {

namespace {

using Steady = std::chrono::steady_clock;

std::string what(const std::string& subject) {
  return "publish to \"" + subject + "\"";
}

PublishOutcome outcome(const AckReply& reply, const std::string& subject) {
  PublishOutcome out;
  try {
    switch (reply.kind) {
      case AckReply::Kind::stored:
        out.result = PublishResult{.stream = reply.ack.stream,
                                   .sequence = reply.ack.sequence,
                                   .duplicate = reply.ack.duplicate};
        return out;
      case AckReply::Kind::no_stream:
        throw NoStreamForSubject(what(subject) +
                                 ": no JetStream stream is bound to this subject; add it to a "
                                 "stream's subjects (ensure_stream)");
      case AckReply::Kind::refused:
        throw_refusal(what(subject), reply.ack.error->description, reply.ack.error->err_code);
      case AckReply::Kind::unreadable:
        throw Unavailable(what(subject) + ": unreadable acknowledgement: " + reply.text);
    }
  } catch (...) {
    out.error = std::current_exception();
  }
  return out;
}

}  // namespace

struct PublisherState {
  struct Entry {
    AsyncPublisher::Callback done;
    Steady::time_point deadline;
    std::string subject;
    std::chrono::milliseconds timeout;
  };

  std::shared_ptr<ConnectionState> conn;
  std::size_t max_pending = 256;
  AckInbox inbox;  // set before the first publish, closed by ~AsyncPublisher

  std::mutex mu;
  std::condition_variable slots;      // publish() waiting for room
  std::condition_variable idle;       // ~AsyncPublisher waiting for running callbacks
  std::condition_variable_any timer;  // the timer thread waiting for the earliest deadline
  std::unordered_map<std::uint64_t, Entry> pending;
  std::uint64_t next = 1;
  Steady::time_point earliest = Steady::time_point::max();  // no deadline ends before it
  int running = 0;                                          // threads inside callbacks
  bool closed = false;
  std::jthread timer_thread;

  // An outcome that is an error (built step by step: GCC 12 at -O3 takes a designated
  // initializer of it for a read of the uninitialized result).
  static PublishOutcome failure(std::exception_ptr error) {
    PublishOutcome out;
    out.error = std::move(error);
    return out;
  }

  static void call(Entry& entry, PublishOutcome out) noexcept {
    try {
      entry.done(std::move(out));
    } catch (...) {
      // A callback's own failure is its business; the publisher carries on.
    }
  }

  // An acknowledgement, on the inbox's thread.
  void on_reply(MsgPtr msg) {
    const auto number = inbox.number(msg.get());
    if (!number) return;
    Entry entry;
    {
      std::lock_guard lock(mu);
      if (closed) return;
      const auto it = pending.find(*number);
      if (it == pending.end()) return;  // ended by its deadline already
      entry = std::move(it->second);
      pending.erase(it);
      ++running;
    }
    slots.notify_one();
    call(entry, outcome(read_ack(msg.get()), entry.subject));
    {
      std::lock_guard lock(mu);
      --running;
    }
    idle.notify_all();
  }

  // Ends publishes past their deadline with Unavailable.
  void run_timer(std::stop_token stop) {
    std::unique_lock lock(mu);
    while (!stop.stop_requested()) {
      const auto until = earliest;
      if (until == Steady::time_point::max()) {
        timer.wait(lock, stop, [&] { return earliest != Steady::time_point::max(); });
      } else {
        timer.wait_until(lock, stop, until, [&] { return earliest < until; });
      }
      if (stop.stop_requested()) return;
      const auto now = Steady::now();
      if (now < earliest) continue;
      std::vector<Entry> expired;
      earliest = Steady::time_point::max();
      for (auto it = pending.begin(); it != pending.end();) {
        if (it->second.deadline <= now) {
          expired.push_back(std::move(it->second));
          it = pending.erase(it);
        } else {
          earliest = std::min(earliest, it->second.deadline);
          ++it;
        }
      }
      if (expired.empty()) continue;
      ++running;
      lock.unlock();
      slots.notify_all();
      for (auto& entry : expired) {
        call(entry, failure(std::make_exception_ptr(
                        Unavailable(what(entry.subject) + ": no acknowledgement within " +
                                    std::to_string(entry.timeout.count()) + " ms"))));
      }
      lock.lock();
      --running;
      idle.notify_all();
    }
  }
};

}  // namespace detail

AsyncPublisher::AsyncPublisher(const Connection& connection, AsyncPublisherOptions options)
    : state_(std::make_shared<detail::PublisherState>()) {
  state_->conn = detail::Access::state(connection);
  state_->max_pending = std::max<std::size_t>(1, options.max_pending);
  state_->inbox = detail::AckInbox::open(state_->conn->nc.get(), state_, "async publisher");
  state_->timer_thread =
      std::jthread([st = state_.get()](std::stop_token stop) { st->run_timer(std::move(stop)); });
}

AsyncPublisher::~AsyncPublisher() {
  auto& st = *state_;
  st.timer_thread.request_stop();
  st.timer_thread.join();
  std::unordered_map<std::uint64_t, detail::PublisherState::Entry> left;
  {
    std::unique_lock lock(st.mu);
    st.closed = true;
    left.swap(st.pending);
    st.idle.wait(lock, [&] { return st.running == 0; });
  }
  st.slots.notify_all();
  st.inbox.close();
  for (auto& [number, entry] : left) {
    detail::PublisherState::call(
        entry, detail::PublisherState::failure(std::make_exception_ptr(
                   Unavailable(detail::what(entry.subject) +
                               ": the publisher was closed before an acknowledgement came"))));
  }
}

void AsyncPublisher::publish(const OutgoingEvent& event, Callback done) {
  if (event.subject.empty()) throw ConfigError("publish: OutgoingEvent.subject is empty");
  if (event.expected_last_sequence && *event.expected_last_sequence == 0) {
    throw ConfigError(detail::what(event.subject) +
                      ": expected_last_sequence must be positive (JetStream cannot check for an "
                      "empty stream; use expected_last_subject_sequence = 0 for an empty subject)");
  }
  auto& st = *state_;
  const auto timeout = event.timeout.count() > 0 ? event.timeout : st.conn->options.request_timeout;
  const auto deadline = detail::Steady::now() + timeout;

  std::uint64_t number = 0;
  {
    std::unique_lock lock(st.mu);
    if (!st.slots.wait_until(lock, deadline,
                             [&] { return st.closed || st.pending.size() < st.max_pending; })) {
      throw Unavailable(detail::what(event.subject) + ": " + std::to_string(st.max_pending) +
                        " publishes waiting for their acknowledgement already; none ended within " +
                        std::to_string(timeout.count()) + " ms");
    }
    if (st.closed) throw Unavailable(detail::what(event.subject) + ": the publisher is closed");
    number = st.next++;
    st.pending.emplace(number, detail::PublisherState::Entry{.done = std::move(done),
                                                             .deadline = deadline,
                                                             .subject = event.subject,
                                                             .timeout = timeout});
    if (deadline < st.earliest) {
      st.earliest = deadline;
      st.timer.notify_one();
    }
  }
  // Taken back when it cannot be sent (then the caller hears of it by the exception).
  const auto take_back = [&] {
    std::lock_guard lock(st.mu);
    return st.pending.erase(number) > 0;
  };
  natsStatus s = NATS_OK;
  try {
    const std::string reply = st.inbox.reply(number);
    detail::MessageBuilder builder;
    detail::append_headers(builder, event,
                           {header::msg_id, detail::expected_last_sequence_header,
                            detail::expected_last_subject_sequence_header});
    if (!event.idempotency_key.empty()) builder.header(header::msg_id, event.idempotency_key);
    if (event.expected_last_sequence) {
      builder.number_header(detail::expected_last_sequence_header, *event.expected_last_sequence);
    }
    if (event.expected_last_subject_sequence) {
      builder.number_header(detail::expected_last_subject_sequence_header,
                            *event.expected_last_subject_sequence);
    }
    const detail::MsgPtr msg = builder.build(event.subject, reply, event.data);
    s = natsConnection_PublishMsg(st.conn->nc.get(), msg.get());
  } catch (...) {
    if (take_back()) throw;
    return;  // ended by its deadline meanwhile: its callback has the outcome
  }
  if (s != NATS_OK) {
    const std::string text = detail::error_text(s);
    if (take_back()) throw Unavailable(detail::what(event.subject) + ": " + text);
  }
}

std::size_t AsyncPublisher::pending() const {
  std::lock_guard lock(state_->mu);
  return state_->pending.size();
}

}  // namespace reflex::rnats
