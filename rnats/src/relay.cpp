#include "reflex/rnats/relay.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "access.hpp"
#include "codec.hpp"
#include "connection_state.hpp"
#include "pub_ack.hpp"
#include "reflex/errors.hpp"
#include "reflex/rnats/errors.hpp"
#include "reflex/wait.hpp"
#include "status.hpp"

// The relay talks to JetStream below nats.c's JetStream layer: it publishes plain NATS messages
// with a reply subject of its own inbox and reads the acknowledgements from its own
// subscription. That keeps every callback's lifetime under our control (nats.c's async-publish
// handlers offer no way to know when the last callback has returned) and lets the expected-last
// headers be set per message.

namespace reflex::rnats {

namespace {

using Clock = std::chrono::steady_clock;
using detail::check;
using detail::MsgPtr;

constexpr const char* kExpectedLastMsgId = "Nats-Expected-Last-Msg-Id";
constexpr const char* kExpectedLastSequence = "Nats-Expected-Last-Sequence";

// --- one published, not yet committed event ---------------------------------------------------

struct Pending {
  enum class Status { in_flight, acked, failed };
  Event event;
  std::string msg_id;
  std::uint64_t number = 0;  // reply subject suffix of the latest publish
  Clock::time_point deadline{};
  Status status = Status::in_flight;
  std::uint64_t sequence = 0;
};

// What a failure means for recovery.
enum class Failure { none, conflict, transient, fatal };

}  // namespace

struct detail::RelayState {
  // Shared with the nats.c callback and the reader thread; guarded by mu.
  std::mutex mu;
  std::condition_variable_any cv;
  std::deque<MsgPtr> responses;
  std::deque<Event> incoming;
  std::exception_ptr reader_error;
  std::string last_read;
  RelayStats stats;

  static void on_response(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    MsgPtr owned(msg);
    auto& st = **static_cast<std::shared_ptr<RelayState>*>(closure);
    {
      std::lock_guard lock(st.mu);
      st.responses.push_back(std::move(owned));
    }
    st.cv.notify_all();
  }
  static void on_complete(void* closure) {
    delete static_cast<std::shared_ptr<RelayState>*>(closure);
  }
};

namespace {

/// One run of a relay: everything here lives on the run() thread except what State shares.
class Session final {
 public:
  Session(const Connection& connection, const RelayOptions& options,
          std::shared_ptr<detail::RelayState> state, std::stop_token stop)
      : conn_(detail::Access::state(connection)),
        options_(options),
        st_(std::move(state)),
        stop_(std::move(stop)),
        prefix_(options.name + ":"),
        filter_(options.subject.empty() ? options.subject_prefix + ".>" : options.subject),
        backoff_(options.retry_backoff) {}

  ~Session() {
    stop_reader();
    if (sub_) natsSubscription_Unsubscribe(sub_.get());
  }

  void run() {
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

 private:
  // ---- start: where to resume -----------------------------------------------------------------

  std::string resume() {
    jsOptions jo = conn_->js_options();
    jsErrCode jerr{};
    jsStreamInfo* raw = nullptr;
    const natsStatus s =
        js_GetStreamInfo(&raw, conn_->js.get(), options_.stream.c_str(), &jo, &jerr);
    if (s == NATS_NOT_FOUND) {
      throw NotFound("relay \"" + options_.name + "\": stream \"" + options_.stream +
                     "\" does not exist; create it first (ensure_stream)");
    }
    check(s, "relay \"" + options_.name + "\": get info of stream \"" + options_.stream + "\"",
          jerr);
    const detail::StreamInfoPtr info(raw);
    const auto last = read_last();
    committed_seq_ = info->State.LastSeq;
    if (last) {
      if (last->second != info->State.LastSeq) throw not_exclusive(info->State.LastSeq);
      committed_id_ = last->first;
      return detail::decode_header_value(committed_id_.substr(prefix_.size()));
    }
    if (info->State.Msgs > 0) throw not_exclusive(info->State.LastSeq);
    if (options_.start_after) return *options_.start_after;
    if (options_.cursors) {
      if (auto cursor = options_.cursors->get(options_.name); !cursor.empty()) return cursor;
    }
    if (info->State.LastSeq > 0) {
      throw ConfigError("relay \"" + options_.name + "\": stream \"" + options_.stream +
                        "\" has had messages (last sequence " +
                        std::to_string(info->State.LastSeq) +
                        ") but holds none of this relay's any more (aged out or purged), so "
                        "where to resume is unknown; give the relay a cursor store or set "
                        "RelayOptions.start_after");
    }
    return {};
  }

  // The relay's last message in the stream: (its Nats-Msg-Id, its sequence), or nullopt.
  std::optional<std::pair<std::string, std::uint64_t>> read_last() {
    jsOptions jo = conn_->js_options();
    jsErrCode jerr{};
    natsMsg* raw = nullptr;
    const natsStatus s =
        js_GetLastMsg(&raw, conn_->js.get(), options_.stream.c_str(), filter_.c_str(), &jo, &jerr);
    if (s == NATS_NOT_FOUND) return std::nullopt;
    check(s,
          "relay \"" + options_.name + "\": read the last message on \"" + filter_ +
              "\" of stream \"" + options_.stream + "\"",
          jerr);
    const MsgPtr msg(raw);
    // As written (prefix and encoded event id): it is compared with the ids of this run and sent
    // back as the expected last id, so only the event id in it is ever decoded.
    const std::string id = detail::header_value(msg.get(), header::msg_id);
    if (id.compare(0, prefix_.size(), prefix_) != 0) {
      throw ConfigError("relay \"" + options_.name + "\": the last message on \"" + filter_ +
                        "\" of stream \"" + options_.stream + "\" has Nats-Msg-Id \"" + id +
                        "\", which this relay did not write; a relay needs subjects (and a "
                        "stream) of its own");
    }
    return std::make_pair(id, natsMsg_GetSequence(msg.get()));
  }

  ConfigError not_exclusive(std::uint64_t last_seq) const {
    return ConfigError("relay \"" + options_.name + "\": stream \"" + options_.stream +
                       "\" holds messages on other subjects than \"" + filter_ +
                       "\" (its last sequence " + std::to_string(last_seq) +
                       " is not this relay's); a relay guards the stream's order and needs the "
                       "stream to itself");
  }

  // ---- plumbing ---------------------------------------------------------------------------------

  void subscribe_responses() {
    natsInbox* inbox = nullptr;
    check(natsInbox_Create(&inbox), "relay: create an inbox");
    inbox_ = inbox;
    natsInbox_Destroy(inbox);
    auto* closure = new std::shared_ptr<detail::RelayState>(st_);
    natsSubscription* sub = nullptr;
    const natsStatus s = natsConnection_Subscribe(&sub, conn_->nc.get(), (inbox_ + ".*").c_str(),
                                                  &detail::RelayState::on_response, closure);
    if (s != NATS_OK) {
      delete closure;
      detail::throw_status(s, "relay \"" + options_.name + "\": subscribe to acknowledgements");
    }
    sub_.reset(sub);
    natsSubscription_SetOnCompleteCB(sub, &detail::RelayState::on_complete, closure);
    natsSubscription_SetPendingLimits(sub, -1, -1);
  }

  void start_reader(std::string after) {
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

  void stop_reader() {
    reader_stop_.request_stop();
    if (reader_.joinable()) reader_.join();
    stop_link_.reset();
  }

  std::string subject_for(const Event& event) const {
    return options_.subject.empty() ? options_.subject_prefix + "." + std::to_string(event.type)
                                    : options_.subject;
  }

  // Sends `p` guarded by what JetStream must hold last: a sequence (first publish after a sync)
  // or the previous message's id.
  void publish(Pending& p, std::uint64_t expect_seq, const std::string& expect_id) {
    p.number = next_number_++;
    const std::string reply = inbox_ + "." + std::to_string(p.number);
    MsgPtr msg = detail::event_message(subject_for(p.event), p.event, reply.c_str());
    check(natsMsgHeader_Set(msg.get(), header::msg_id, p.msg_id.c_str()), "relay: set Nats-Msg-Id");
    if (expect_seq > 0) {
      check(natsMsgHeader_Set(msg.get(), kExpectedLastSequence, std::to_string(expect_seq).c_str()),
            "relay: set the expected last sequence");
    } else if (!expect_id.empty()) {
      check(natsMsgHeader_Set(msg.get(), kExpectedLastMsgId, expect_id.c_str()),
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

  void fail(Pending& p, Failure kind, const std::string& why) {
    if (p.status == Pending::Status::in_flight) --in_flight_;
    p.status = Pending::Status::failed;
    if (kind > failure_) {
      failure_ = kind;
      failure_text_ = "event " + p.event.id + ": " + why;
    }
  }

  // ---- the loop ---------------------------------------------------------------------------------

  void step(Clock::time_point next_flush) {
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

  Clock::time_point earliest_deadline() const {
    for (const auto& p : window_) {
      if (p.status == Pending::Status::in_flight) return p.deadline;
    }
    return Clock::time_point::max();
  }

  void handle(natsMsg* msg) {
    const std::string_view subject = natsMsg_GetSubject(msg);
    const auto number = parse_int64(subject.substr(std::min(subject.size(), inbox_.size() + 1)));
    if (!number) return;
    const auto it =
        std::lower_bound(window_.begin(), window_.end(), static_cast<std::uint64_t>(*number),
                         [](const Pending& p, std::uint64_t n) { return p.number < n; });
    if (it == window_.end() || it->number != static_cast<std::uint64_t>(*number) ||
        it->status != Pending::Status::in_flight) {
      return;  // an answer to an earlier publish of a republished event, or after a timeout
    }
    Pending& p = *it;
    if (natsMsg_IsNoResponders(msg)) {
      fail(p, Failure::transient,
           "no stream answered on \"" + subject_for(p.event) + "\" (stream \"" + options_.stream +
               "\" missing or unavailable)");
      return;
    }
    const std::string_view body(natsMsg_GetData(msg) ? natsMsg_GetData(msg) : "",
                                static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    detail::PubAck ack;
    try {
      ack = detail::parse_pub_ack(body);
    } catch (const Error& e) {
      // Whether the stream holds the message is unknown: recovery reads the stream.
      fail(p, Failure::transient, e.what());
      return;
    }
    if (ack.error) {
      const int code = ack.error->err_code;
      const std::string text =
          ack.error->description + " (JetStream error " + std::to_string(code) + ")";
      Failure kind = Failure::transient;
      if (code == JSStreamWrongLastMsgIDErr || code == JSStreamWrongLastSequenceErr) {
        kind = Failure::conflict;
      } else if (code == JSStreamMessageExceedsMaximumErr || code == JSStreamNotMatchErr) {
        kind = Failure::fatal;
      }
      fail(p, kind, text);
      return;
    }
    --in_flight_;
    p.status = Pending::Status::acked;
    p.sequence = ack.sequence;
    if (ack.duplicate) {
      std::lock_guard lock(st_->mu);
      ++st_->stats.duplicates;
    }
  }

  void expire() {
    const auto now = Clock::now();
    for (auto& p : window_) {
      if (p.status == Pending::Status::in_flight && p.deadline <= now) {
        fail(p, Failure::transient,
             "no acknowledgement within " + std::to_string(options_.ack_timeout.count()) + " ms");
      }
    }
  }

  // Advances over the acknowledged prefix.
  void commit() {
    while (!window_.empty() && window_.front().status == Pending::Status::acked) {
      commit_front(window_.front().sequence);
    }
  }

  void commit_front(std::uint64_t sequence) {
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

  // Every in-flight publish has settled and something failed: find out what the stream holds and
  // republish the rest, in order, with the same ids.
  void recover() {
    if (failure_ == Failure::fatal) {
      throw Error("relay \"" + options_.name + "\": " + failure_text_);
    }
    note_recovery(failure_text_);
    if (!pause()) return;
    for (;;) {
      try {
        resync();
        backoff_ = options_.retry_backoff;
        return;
      } catch (const Error& e) {
        if (!e.retryable() || natsConnection_IsClosed(conn_->nc.get())) throw;
        note_recovery(e.what());
        if (!pause()) return;
      }
    }
  }

  void resync() {
    const auto last = read_last();
    jsOptions jo = conn_->js_options();
    jsErrCode jerr{};
    jsStreamInfo* raw = nullptr;
    check(js_GetStreamInfo(&raw, conn_->js.get(), options_.stream.c_str(), &jo, &jerr),
          "relay \"" + options_.name + "\": get info of stream \"" + options_.stream + "\"", jerr);
    const detail::StreamInfoPtr info(raw);
    const std::uint64_t stream_last = info->State.LastSeq;
    std::size_t stored = 0;  // how many window entries the stream holds
    if (last) {
      if (last->second != stream_last) throw not_exclusive(stream_last);
      if (last->first != committed_id_) {
        const auto it = std::find_if(window_.begin(), window_.end(),
                                     [&](const Pending& p) { return p.msg_id == last->first; });
        if (it == window_.end()) {
          throw Error("relay \"" + options_.name + "\": stream \"" + options_.stream +
                      "\" ends with \"" + last->first +
                      "\", which this run did not publish: is another relay with the same name "
                      "running?");
        }
        stored = static_cast<std::size_t>(it - window_.begin()) + 1;
      }
    } else if (!committed_id_.empty()) {
      throw Error("relay \"" + options_.name + "\": stream \"" + options_.stream +
                  "\" no longer holds the relay's messages (purged while relaying?)");
    }
    for (std::size_t i = 0; i < stored; ++i) {
      commit_front(i + 1 == stored ? last->second : 0);
    }
    committed_seq_ = stream_last;
    failure_ = Failure::none;
    failure_text_.clear();
    // Nothing is in flight now; answers to earlier publishes no longer match any number.
    for (auto& p : window_) p.status = Pending::Status::failed;
    in_flight_ = 0;
    {
      std::lock_guard lock(st_->mu);
      st_->stats.republished += window_.size();
    }
    for (std::size_t i = 0; i < window_.size(); ++i) {
      publish(window_[i], i == 0 ? committed_seq_ : 0,
              i == 0 ? committed_id_ : window_[i - 1].msg_id);
      if (failure_ != Failure::none) return;  // could not even send: recover again
    }
    synced_ = window_.empty();
  }

  void restart_reader(const std::exception_ptr& error) {
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

  bool pause() {
    const bool slept = sleep_for(stop_, backoff_);
    backoff_ = std::min(backoff_ * 2, options_.max_retry_backoff);
    return slept;
  }

  void note_recovery(const std::string& text) {
    std::lock_guard lock(st_->mu);
    ++st_->stats.recoveries;
    st_->stats.last_error = text;
  }

  void flush_cursor() {
    if (!options_.cursors) return;
    try {
      options_.cursors->flush();
    } catch (const Error& e) {
      if (!e.retryable()) throw;
      std::lock_guard lock(st_->mu);
      st_->stats.last_error = std::string("cursor store: ") + e.what();
    }
  }

  // Stopping: let in-flight publishes settle briefly so the cursor covers what the stream holds.
  void finish() {
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

  std::shared_ptr<detail::ConnectionState> conn_;
  const RelayOptions& options_;
  std::shared_ptr<detail::RelayState> st_;
  std::stop_token stop_;
  const std::string prefix_;
  const std::string filter_;
  std::chrono::milliseconds backoff_;

  detail::SubscriptionPtr sub_;
  std::string inbox_;
  std::uint64_t next_number_ = 1;
  std::stop_source reader_stop_;
  std::optional<std::stop_callback<std::function<void()>>> stop_link_;
  std::jthread reader_;
  std::string resume_after_;

  std::deque<Pending> window_;
  std::size_t in_flight_ = 0;
  std::string committed_id_;         // Nats-Msg-Id of the last message the stream holds
  std::uint64_t committed_seq_ = 0;  // the stream's last sequence at the last sync
  bool synced_ = true;               // the next publish is the first since a sync
  Failure failure_ = Failure::none;
  std::string failure_text_;
};

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
  if (o.max_in_flight == 0)
    throw ConfigError("Relay \"" + o.name + "\": max_in_flight must be positive");
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
    state_->responses.clear();
    state_->incoming.clear();
    state_->reader_error = nullptr;
    state_->last_read.clear();
  }
  Session session(connection_, options_, state_, std::move(stop));
  session.run();
}

RelayStats Relay::stats() const {
  std::lock_guard lock(state_->mu);
  return state_->stats;
}

bool Relay::wait_for(std::stop_token stop,
                     const std::function<bool(const RelayStats&)>& reached) const {
  std::unique_lock lock(state_->mu);
  return state_->cv.wait(lock, stop, [&] { return reached(state_->stats); });
}

}  // namespace reflex::rnats
