// The loop of a relay run: the source is read on a thread of its own, events are published with
// their ids (Nats-Msg-Id) and guarded by the expected last id or sequence, acknowledgements are
// matched by reply subject, and the acknowledged prefix of the window is committed in order.
//
// Everything per event is kept small, since the relay should move events as fast as nats.c
// publishes them: the reader hands events over in batches, acknowledgements are read on nats.c's
// thread and taken by the loop in batches, each message's header block is written into a reused
// buffer (message_builder.hpp), and stats, cursor and waiters hear of progress once per batch.

#include "relay/session.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

#include "access.hpp"
#include "codec.hpp"
#include "reflex/rnats/errors.hpp"
#include "reflex/wait.hpp"
#include "status.hpp"

namespace reflex::rnats::detail {

namespace {
/// The answers a loop with a full window waits for before it wakes (see RelayState::wake).
constexpr std::size_t kAnswerBatch = 64;
}  // namespace

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
  st_->progress.notify_all();
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

void AnswerQueue::on_reply(MsgPtr msg) {
  const auto number = AckInbox::delivered_number(msg.get());
  if (!number) return;
  Answer answer{.number = *number, .reply = read_ack(msg.get())};
  msg.reset();
  bool wake = false;
  {
    std::lock_guard lock(st->mu);
    answers.push_back(std::move(answer));
    wake = st->loop_waiting && answers.size() >= st->loop_wants_answers;
  }
  if (wake) st->wake.notify_one();
}

void RelaySession::subscribe_responses() {
  answers_ = std::make_shared<AnswerQueue>(st_);
  inbox_ = detail::AckInbox::open(conn_->nc.get(), answers_, "relay \"" + options_.name + "\"");
}

void RelaySession::start_reader(std::string after) {
  reader_stop_ = std::stop_source();
  stop_link_.emplace(stop_, [this] { reader_stop_.request_stop(); });
  reader_ = std::jthread([st = st_, source = options_.source, after = std::move(after),
                          cap = options_.read_ahead, rs = reader_stop_.get_token()] {
    try {
      auto client = source(rs, after, StreamOptions{});
      if (!client) throw Error("relay: the source's stream function returned null");
      std::vector<Event> batch;
      for (;;) {
        // What the source holds already comes along without waiting: one hand-over (and at
        // most one wake-up of the loop) per batch.
        batch.push_back(client->recv());
        while (batch.size() < cap && client->remaining().value_or(0) > 0) {
          batch.push_back(client->recv());
        }
        for (std::size_t next = 0; next < batch.size();) {
          bool wake = false;
          {
            std::unique_lock lock(st->mu);
            if (st->incoming.size() >= cap) {
              st->reader_waiting = true;
              st->room.wait(lock, rs, [&] { return st->incoming.size() <= cap / 2; });
              st->reader_waiting = false;
            }
            if (rs.stop_requested()) return;
            const std::size_t n = std::min(batch.size() - next, cap - st->incoming.size());
            for (std::size_t i = 0; i < n; ++i) st->incoming.push_back(std::move(batch[next++]));
            st->last_read = st->incoming.back().id;
            wake = st->loop_waiting && st->loop_wants_events;
          }
          if (wake) st->wake.notify_one();
        }
        batch.clear();
      }
    } catch (...) {
      bool wake = false;
      {
        std::lock_guard lock(st->mu);
        st->reader_error = std::current_exception();
        wake = st->loop_waiting;
      }
      if (wake) st->wake.notify_one();
    }
  });
}

void RelaySession::stop_reader() {
  reader_stop_.request_stop();
  if (reader_.joinable()) reader_.join();
  stop_link_.reset();
}

const std::string& RelaySession::subject_for(const Event& event) {
  if (!options_.subject.empty()) return options_.subject;
  subject_.assign(options_.subject_prefix).push_back('.');
  char digits[16];
  const auto end = std::to_chars(digits, digits + sizeof digits, event.type).ptr;
  subject_.append(digits, static_cast<std::size_t>(end - digits));
  return subject_;
}

void RelaySession::publish(Pending& p, std::uint64_t expect_seq, const std::string& expect_id) {
  p.number = next_number_++;
  inbox_.reply(p.number, reply_);
  const std::string& subject = subject_for(p.event);
  builder_.clear();
  MsgPtr msg;
  const auto guard = [&] {
    builder_.header(header::msg_id, p.msg_id);
    if (expect_seq > 0) {
      builder_.number_header(detail::expected_last_sequence_header, expect_seq);
    } else if (!expect_id.empty()) {
      builder_.header(detail::expected_last_msg_id_header, expect_id);
    }
  };
  if (options_.format == WireFormat::reflex) {
    append_event_headers(builder_, p.event);
    guard();
    msg = builder_.build(subject, reply_, p.event.metadata);
  } else {
    const OutgoingEvent out =
        rnats::event_message(subject, p.event, options_.format, options_.windshift);
    append_headers(builder_, out,
                   {header::msg_id, detail::expected_last_sequence_header,
                    detail::expected_last_msg_id_header});
    guard();
    msg = builder_.build(subject, reply_, out.data);
  }
  p.deadline = now_ + options_.ack_timeout;
  p.status = Pending::Status::in_flight;
  ++in_flight_;
  ++unreported_published_;
  const natsStatus s = natsConnection_PublishMsg(conn_->nc.get(), msg.get());
  if (s != NATS_OK) fail(p, Failure::transient, detail::error_text(s));
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
  answered_.clear();
  fresh_.clear();
  std::exception_ptr reader_error;
  bool took = false;
  {
    std::unique_lock lock(st_->mu);
    const auto ready = [&](std::size_t answers_wanted) {
      return answers_->answers.size() >= answers_wanted || st_->reader_error ||
             (failure_ == Failure::none && !st_->incoming.empty() &&
              window_.size() < options_.max_in_flight) ||
             (failure_ != Failure::none && in_flight_ == 0);
    };
    if (!ready(1)) {
      const auto wake = std::min(next_flush, earliest_deadline());
      const bool room = window_.size() < options_.max_in_flight;
      st_->loop_wants_events = failure_ == Failure::none && room;
      // Full with events waiting: a batch of answers, which the publishes in flight will give
      // (or their deadline, which wakes the loop anyway).
      st_->loop_wants_answers = failure_ == Failure::none && !room && !st_->incoming.empty()
                                    ? std::clamp<std::size_t>(in_flight_, 1, kAnswerBatch)
                                    : 1;
      st_->loop_waiting = true;
      st_->wake.wait_until(lock, stop_, wake, [&] { return ready(st_->loop_wants_answers); });
      st_->loop_waiting = false;
    }
    answered_.swap(answers_->answers);
    reader_error = std::exchange(st_->reader_error, nullptr);
    if (failure_ == Failure::none) {
      while (!st_->incoming.empty() && window_.size() + fresh_.size() < options_.max_in_flight) {
        fresh_.push_back(std::move(st_->incoming.front()));
        st_->incoming.pop_front();
      }
      took =
          !fresh_.empty() && st_->reader_waiting && st_->incoming.size() <= options_.read_ahead / 2;
    }
  }
  if (took) st_->room.notify_one();
  for (const auto& answer : answered_) handle(answer);
  now_ = Clock::now();
  expire();
  commit();
  for (auto& event : fresh_) {
    Pending p;
    p.msg_id.reserve(prefix_.size() + event.id.size());
    p.msg_id.append(prefix_);
    append_encoded(p.msg_id, event.id);
    p.event = std::move(event);
    window_.push_back(std::move(p));
    const std::string& previous =
        window_.size() > 1 ? window_[window_.size() - 2].msg_id : committed_id_;
    publish(window_.back(), synced_ ? committed_seq_ : 0, previous);
    synced_ = false;
  }
  report();
  if (reader_error) restart_reader(reader_error);
  if (failure_ != Failure::none && in_flight_ == 0 && !stop_.stop_requested()) recover();
}

Clock::time_point RelaySession::earliest_deadline() const {
  for (const auto& p : window_) {
    if (p.status == Pending::Status::in_flight) return p.deadline;
  }
  return Clock::time_point::max();
}

void RelaySession::handle(const Answer& answer) {
  // The window's publish numbers are consecutive (publishes and republishes go out in window
  // order): an answer's entry is found by subtraction.
  auto it = window_.end();
  if (!window_.empty() && answer.number >= window_.front().number &&
      answer.number - window_.front().number < window_.size()) {
    it = window_.begin() + static_cast<std::ptrdiff_t>(answer.number - window_.front().number);
  }
  if (it == window_.end() || it->number != answer.number ||
      it->status != Pending::Status::in_flight) {
    return;  // an answer to an earlier publish of a republished event, or after a timeout
  }
  Pending& p = *it;
  const auto& reply = answer.reply;
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
  // Publishes go out in window order and every publish's deadline is its time plus the same
  // timeout (a republish of the window too): the in-flight entries' deadlines never decrease
  // along the window, so the first one not yet due ends the search.
  for (auto& p : window_) {
    if (p.status != Pending::Status::in_flight) continue;
    if (p.deadline > now_) break;
    fail(p, Failure::transient,
         "no acknowledgement within " + std::to_string(options_.ack_timeout.count()) + " ms");
  }
}

void RelaySession::commit() {
  while (!window_.empty() && window_.front().status == Pending::Status::acked) {
    commit_front(window_.front().sequence);
  }
}

void RelaySession::commit_front(std::uint64_t sequence) {
  Pending& p = window_.front();
  committed_id_ = std::move(p.msg_id);
  committed_seq_ = std::max(committed_seq_, sequence);
  unreported_cursor_ = std::move(p.event.id);
  ++unreported_committed_;
  window_.pop_front();
}

void RelaySession::report() {
  if (unreported_published_ == 0 && unreported_committed_ == 0) return;
  // The cursor store hears of the last committed event only: a cursor is the acknowledged
  // prefix, whatever came before it in the batch is covered by it.
  if (unreported_committed_ > 0 && options_.cursors) {
    options_.cursors->set(options_.name, unreported_cursor_);
  }
  {
    std::lock_guard lock(st_->mu);
    st_->stats.published += std::exchange(unreported_published_, 0);
    if (unreported_committed_ > 0) {
      st_->stats.acknowledged += std::exchange(unreported_committed_, 0);
      st_->stats.cursor = unreported_cursor_;
    }
  }
  st_->progress.notify_all();  // for wait_for()
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
    answered_.clear();
    {
      std::unique_lock lock(st_->mu);
      st_->loop_waiting = true;
      st_->wake.wait_until(lock, until, [&] { return !answers_->answers.empty(); });
      st_->loop_waiting = false;
      answered_.swap(answers_->answers);
    }
    for (const auto& answer : answered_) handle(answer);
  }
  commit();
  report();
  try {
    if (options_.cursors) options_.cursors->flush();
  } catch (...) {
    // The stream, not the cursor, is the source of truth for resuming.
  }
}

}  // namespace reflex::rnats::detail
