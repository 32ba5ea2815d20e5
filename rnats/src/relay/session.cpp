// The loop of a relay run: the source is read on a thread of its own, events are published with
// their ids (Nats-Msg-Id) and guarded by the expected last id or sequence, acknowledgements are
// matched by reply subject, and the acknowledged prefix of the window is committed in order.

#include "relay/session.hpp"

#include <algorithm>
#include <vector>

#include "access.hpp"
#include "codec.hpp"
#include "reflex/rnats/errors.hpp"
#include "reflex/wait.hpp"
#include "status.hpp"

namespace reflex::rnats::detail {

RelaySession::RelaySession(const Connection& connection, const RelayOptions& options,
                           std::shared_ptr<detail::RelayState> state, std::stop_token stop)
    : conn_(detail::Access::state(connection)),
      options_(options),
      st_(std::move(state)),
      stop_(std::move(stop)),
      prefix_(options.name + ":"),
      filter_(options.subject.empty() ? options.subject_prefix + ".>" : options.subject),
      backoff_(options.retry_backoff) {}

RelaySession::~RelaySession() {
  stop_reader();
  inbox_.close();
}

void RelaySession::run() {
  resume_after_ = resume();
  {
    // The recovered position is the cursor until the first new acknowledgement: a watcher
    // waiting for the head (reflexctl relay --to-head) must not wait for an event already in.
    std::lock_guard lock(st_->mu);
    st_->stats.cursor = resume_after_;
  }
  st_->cv.notify_all();
  subscribe_responses();
  start_reader(resume_after_);
  auto next_flush = Clock::now() + std::chrono::seconds(1);
  try {
    while (!stop_.stop_requested()) {
      step(next_flush);
      if (Clock::now() >= next_flush) {
        flush_cursor();
        next_flush = Clock::now() + std::chrono::seconds(1);
      }
    }
  } catch (...) {
    if (!stop_.stop_requested() || !is_expected(std::current_exception())) {
      try {
        finish();
      } catch (...) {
        // Report the error that ended the run.
      }
      throw;
    }
  }
  finish();
}

void RelaySession::subscribe_responses() {
  inbox_ = detail::AckInbox::open(conn_->nc.get(), st_, "relay \"" + options_.name + "\"");
}

void RelaySession::start_reader(std::string after) {
  reader_stop_ = std::stop_source();
  stop_link_.emplace(stop_, [this] { reader_stop_.request_stop(); });
  reader_ = std::jthread([st = st_, source = options_.source, after = std::move(after),
                          cap = options_.max_in_flight, rs = reader_stop_.get_token()] {
    try {
      auto client = source(rs, after, StreamOptions{});
      if (!client) throw Error("relay: the source's stream function returned null");
      for (;;) {
        Event event = client->recv();
        std::unique_lock lock(st->mu);
        st->cv.wait(lock, rs, [&] { return st->incoming.size() < cap; });
        if (rs.stop_requested()) return;
        st->last_read = event.id;
        st->incoming.push_back(std::move(event));
        st->cv.notify_all();
      }
    } catch (...) {
      {
        std::lock_guard lock(st->mu);
        st->reader_error = std::current_exception();
      }
      st->cv.notify_all();
    }
  });
}

void RelaySession::stop_reader() {
  reader_stop_.request_stop();
  if (reader_.joinable()) reader_.join();
  stop_link_.reset();
}

std::string RelaySession::subject_for(const Event& event) const {
  return options_.subject.empty() ? options_.subject_prefix + "." + std::to_string(event.type)
                                  : options_.subject;
}

void RelaySession::publish(Pending& p, std::uint64_t expect_seq, const std::string& expect_id) {
  p.number = next_number_++;
  const std::string reply = inbox_.reply(p.number);
  MsgPtr msg = detail::message(
      rnats::event_message(subject_for(p.event), p.event, options_.format, options_.windshift),
      reply.c_str());
  check(natsMsgHeader_Set(msg.get(), header::msg_id, p.msg_id.c_str()), "relay: set Nats-Msg-Id");
  if (expect_seq > 0) {
    check(natsMsgHeader_Set(msg.get(), detail::expected_last_sequence_header,
                            std::to_string(expect_seq).c_str()),
          "relay: set the expected last sequence");
  } else if (!expect_id.empty()) {
    check(natsMsgHeader_Set(msg.get(), detail::expected_last_msg_id_header, expect_id.c_str()),
          "relay: set the expected last message id");
  }
  p.deadline = Clock::now() + options_.ack_timeout;
  p.status = Pending::Status::in_flight;
  ++in_flight_;
  const natsStatus s = natsConnection_PublishMsg(conn_->nc.get(), msg.get());
  if (s != NATS_OK) fail(p, Failure::transient, detail::error_text(s));
  std::lock_guard lock(st_->mu);
  ++st_->stats.published;
}

void RelaySession::fail(Pending& p, Failure kind, const std::string& why) {
  if (p.status == Pending::Status::in_flight) --in_flight_;
  p.status = Pending::Status::failed;
  if (kind > failure_) {
    failure_ = kind;
    failure_text_ = "event " + p.event.id + ": " + why;
  }
}

void RelaySession::step(Clock::time_point next_flush) {
  std::deque<MsgPtr> responses;
  std::vector<Event> fresh;
  std::exception_ptr reader_error;
  {
    std::unique_lock lock(st_->mu);
    const auto wake = std::min(next_flush, earliest_deadline());
    st_->cv.wait_until(lock, stop_, wake, [&] {
      return !st_->responses.empty() || st_->reader_error ||
             (failure_ == Failure::none && !st_->incoming.empty() &&
              window_.size() < options_.max_in_flight) ||
             (failure_ != Failure::none && in_flight_ == 0);
    });
    responses.swap(st_->responses);
    reader_error = std::exchange(st_->reader_error, nullptr);
    if (failure_ == Failure::none) {
      while (!st_->incoming.empty() && window_.size() + fresh.size() < options_.max_in_flight) {
        fresh.push_back(std::move(st_->incoming.front()));
        st_->incoming.pop_front();
      }
      if (!fresh.empty()) st_->cv.notify_all();  // room for the reader
    }
  }
  for (auto& response : responses) handle(response.get());
  expire();
  commit();
  for (auto& event : fresh) {
    Pending p;
    p.msg_id = prefix_ + detail::encode_header_value(event.id);
    p.event = std::move(event);
    window_.push_back(std::move(p));
    const std::string previous =
        window_.size() > 1 ? window_[window_.size() - 2].msg_id : committed_id_;
    publish(window_.back(), synced_ ? committed_seq_ : 0, previous);
    synced_ = false;
  }
  if (reader_error) restart_reader(reader_error);
  if (failure_ != Failure::none && in_flight_ == 0 && !stop_.stop_requested()) recover();
}

Clock::time_point RelaySession::earliest_deadline() const {
  for (const auto& p : window_) {
    if (p.status == Pending::Status::in_flight) return p.deadline;
  }
  return Clock::time_point::max();
}

void RelaySession::handle(natsMsg* msg) {
  const auto number = inbox_.number(msg);
  if (!number) return;
  const auto it = std::lower_bound(window_.begin(), window_.end(), *number,
                                   [](const Pending& p, std::uint64_t n) { return p.number < n; });
  if (it == window_.end() || it->number != *number || it->status != Pending::Status::in_flight) {
    return;  // an answer to an earlier publish of a republished event, or after a timeout
  }
  Pending& p = *it;
  const auto reply = detail::read_ack(msg);
  switch (reply.kind) {
    case detail::AckReply::Kind::no_stream:
      fail(p, Failure::transient,
           "no stream answered on \"" + subject_for(p.event) + "\" (stream \"" + options_.stream +
               "\" missing or unavailable)");
      return;
    case detail::AckReply::Kind::unreadable:
      // Whether the stream holds the message is unknown: recovery reads the stream.
      fail(p, Failure::transient, reply.text);
      return;
    case detail::AckReply::Kind::refused: {
      const int code = reply.ack.error->err_code;
      Failure kind = Failure::transient;
      if (code == JSStreamWrongLastMsgIDErr || code == JSStreamWrongLastSequenceErr) {
        kind = Failure::conflict;
      } else if (code == JSStreamMessageExceedsMaximumErr || code == JSStreamNotMatchErr) {
        kind = Failure::fatal;
      }
      fail(p, kind, reply.text);
      return;
    }
    case detail::AckReply::Kind::stored:
      break;
  }
  --in_flight_;
  p.status = Pending::Status::acked;
  p.sequence = reply.ack.sequence;
  if (reply.ack.duplicate) {
    std::lock_guard lock(st_->mu);
    ++st_->stats.duplicates;
  }
}

void RelaySession::expire() {
  const auto now = Clock::now();
  for (auto& p : window_) {
    if (p.status == Pending::Status::in_flight && p.deadline <= now) {
      fail(p, Failure::transient,
           "no acknowledgement within " + std::to_string(options_.ack_timeout.count()) + " ms");
    }
  }
}

void RelaySession::commit() {
  while (!window_.empty() && window_.front().status == Pending::Status::acked) {
    commit_front(window_.front().sequence);
  }
}

void RelaySession::commit_front(std::uint64_t sequence) {
  Pending& p = window_.front();
  committed_id_ = p.msg_id;
  committed_seq_ = std::max(committed_seq_, sequence);
  if (options_.cursors) options_.cursors->set(options_.name, p.event.id);
  {
    std::lock_guard lock(st_->mu);
    ++st_->stats.acknowledged;
    st_->stats.cursor = p.event.id;
  }
  st_->cv.notify_all();  // for wait_for()
  window_.pop_front();
}

void RelaySession::restart_reader(const std::exception_ptr& error) {
  if (stop_.stop_requested() && is_expected(error)) return;
  if (!is_retryable(error) || find_error<HeadReached>(error) != nullptr) {
    std::rethrow_exception(error);
  }
  std::string text = "source failed";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    text = e.what();
  }
  note_recovery("source: " + text);
  stop_reader();
  if (!pause()) return;
  std::string after;
  {
    std::lock_guard lock(st_->mu);
    after = st_->last_read.empty() ? resume_after_ : st_->last_read;
  }
  start_reader(after);
}

bool RelaySession::pause() {
  const bool slept = sleep_for(stop_, backoff_);
  backoff_ = std::min(backoff_ * 2, options_.max_retry_backoff);
  return slept;
}

void RelaySession::note_recovery(const std::string& text) {
  std::lock_guard lock(st_->mu);
  ++st_->stats.recoveries;
  st_->stats.last_error = text;
}

void RelaySession::flush_cursor() {
  if (!options_.cursors) return;
  try {
    options_.cursors->flush();
  } catch (const Error& e) {
    if (!e.retryable()) throw;
    std::lock_guard lock(st_->mu);
    st_->stats.last_error = std::string("cursor store: ") + e.what();
  }
}

void RelaySession::finish() {
  stop_reader();
  const auto until = Clock::now() + options_.ack_timeout;
  while (in_flight_ > 0 && failure_ == Failure::none && Clock::now() < until) {
    std::deque<MsgPtr> responses;
    {
      std::unique_lock lock(st_->mu);
      st_->cv.wait_until(lock, until, [&] { return !st_->responses.empty(); });
      responses.swap(st_->responses);
    }
    for (auto& response : responses) handle(response.get());
  }
  commit();
  try {
    if (options_.cursors) options_.cursors->flush();
  } catch (...) {
    // The stream, not the cursor, is the source of truth for resuming.
  }
}

}  // namespace reflex::rnats::detail
