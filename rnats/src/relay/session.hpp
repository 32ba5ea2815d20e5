#pragma once
// One run of an rnats::Relay: the state machine that relays a source into a JetStream stream
// exactly once and in order. session.cpp holds the loop (read, publish, acknowledge, commit);
// recovery.cpp how a run finds where to resume and what the stream holds after a failure.
//
// The relay talks to JetStream below nats.c's JetStream layer, through an AckInbox
// (ack_inbox.hpp): plain NATS messages answered on an inbox of its own, so the expected-last
// headers can be set per message.

#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ack_inbox.hpp"
#include "connection_state.hpp"
#include "handles.hpp"
#include "message_builder.hpp"
#include "reflex/errors.hpp"
#include "reflex/rnats/relay.hpp"

namespace reflex::rnats::detail {

using Clock = std::chrono::steady_clock;

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

/// What a run shares with the source reader, nats.c's callback thread and Relay::stats().
///
/// Each waiter has a condition of its own, and the two feeding the run loop (the reader, the
/// acknowledgements) signal it only while it sleeps: at full speed nobody waits for anybody, and
/// a wake-up per event (each waking every other thread too) cost the relay more than a publish.
struct RelayState {
  // Guarded by mu.
  std::mutex mu;
  /// The run loop: an acknowledgement, events read or a reader error, signalled only while
  /// loop_waiting and for what it waits for: events only while it has room for them, answers
  /// once `loop_wants_answers` are queued. With its window full it waits for a batch of answers
  /// (each frees a slot), not for the first: one wake-up per answer would publish one event per
  /// wake-up, exactly when the relay has the most to do.
  std::condition_variable_any wake;
  bool loop_waiting = false;
  bool loop_wants_events = true;
  std::size_t loop_wants_answers = 1;
  /// The reader: room in `incoming`. A reader that found it full waits until half of it is
  /// free (reader_waiting), so it wakes once per half a read-ahead, not per batch the loop takes.
  std::condition_variable_any room;
  bool reader_waiting = false;
  /// Relay::wait_for: the stats moved.
  std::condition_variable_any progress;
  std::deque<Event> incoming;
  std::exception_ptr reader_error;
  std::string last_read;
  RelayStats stats;
};

/// JetStream's answer to publish `number` of a run, read on nats.c's thread.
struct Answer {
  std::uint64_t number = 0;
  AckReply reply;
};

/// Where a run's AckInbox hands its answers (AckInbox::open calls on_reply on nats.c's delivery
/// thread): each is read there and queued for the run loop. One per run, so a late answer to a
/// finished run's inbox never reaches the next run.
struct AnswerQueue {
  explicit AnswerQueue(std::shared_ptr<RelayState> state) : st(std::move(state)) {}
  void on_reply(MsgPtr msg);

  std::shared_ptr<RelayState> st;
  std::vector<Answer> answers;  // guarded by st->mu
};

/// Thread-safety: everything lives on the run() thread except what RelayState shares.
/// Lifetime: one per Relay::run; `options` and `state` outlive it.
class RelaySession final {
 public:
  RelaySession(const Connection& connection, const RelayOptions& options,
               std::shared_ptr<detail::RelayState> state, std::stop_token stop);
  ~RelaySession();
  /// Relays until `stop` (see Relay::run).
  void run();
  RelaySession(const RelaySession&) = delete;
  RelaySession& operator=(const RelaySession&) = delete;

 private:
  // ---- start, and after a failure: where to resume (recovery.cpp) ---------------------------
  std::string resume();
  // The relay's last message in the stream: (its Nats-Msg-Id, its sequence), or nullopt.
  std::optional<std::pair<std::string, std::uint64_t>> read_last();
  ConfigError not_exclusive(std::uint64_t last_seq) const;
  // Every in-flight publish has settled and something failed: find out what the stream holds and
  // republish the rest, in order, with the same ids.
  void recover();
  void resync();

  // ---- plumbing (session.cpp) ---------------------------------------------------------------
  void subscribe_responses();
  void start_reader(std::string after);
  void stop_reader();
  const std::string& subject_for(const Event& event);
  // Sends `p` guarded by what JetStream must hold last: a sequence (first publish after a sync)
  // or the previous message's id.
  void publish(Pending& p, std::uint64_t expect_seq, const std::string& expect_id);
  void fail(Pending& p, Failure kind, const std::string& why);

  // ---- the loop (session.cpp) ---------------------------------------------------------------
  void step(Clock::time_point next_flush);
  Clock::time_point earliest_deadline() const;
  void handle(const Answer& answer);
  void expire();
  // Advances over the acknowledged prefix.
  void commit();
  void commit_front(std::uint64_t sequence);
  // Hands what the loop did since the last report to the stats and the cursor store, under one
  // lock: the publishes sent and the events committed.
  void report();
  void restart_reader(const std::exception_ptr& error);
  bool pause();
  void note_recovery(const std::string& text);
  void flush_cursor();
  // Stopping: let in-flight publishes settle briefly so the cursor covers what the stream holds.
  void finish();

  std::shared_ptr<detail::ConnectionState> conn_;
  const RelayOptions& options_;
  std::shared_ptr<detail::RelayState> st_;
  std::stop_token stop_;
  const std::string prefix_;
  const std::string filter_;
  std::chrono::milliseconds backoff_;

  std::shared_ptr<AnswerQueue> answers_;
  detail::AckInbox inbox_;
  std::uint64_t next_number_ = 1;
  std::vector<Answer> answered_;  // the loop's batch of answers and of events (kept for capacity)
  std::vector<Event> fresh_;
  Clock::time_point now_{};  // read once per batch of publishes (their deadlines)
  MessageBuilder builder_;
  std::string reply_, subject_;
  // Not yet in the stats: publishes sent, events committed (and the last one's id).
  std::uint64_t unreported_published_ = 0;
  std::uint64_t unreported_committed_ = 0;
  std::string unreported_cursor_;
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

}  // namespace reflex::rnats::detail
