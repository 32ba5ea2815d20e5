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

#include "ack_inbox.hpp"
#include "connection_state.hpp"
#include "handles.hpp"
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

/// What a run shares with nats.c's callback thread, the source reader and Relay::stats().
struct RelayState {
  // Shared with the nats.c callback and the reader thread; guarded by mu.
  std::mutex mu;
  std::condition_variable_any cv;
  std::deque<MsgPtr> responses;
  std::deque<Event> incoming;
  std::exception_ptr reader_error;
  std::string last_read;
  RelayStats stats;

  // An acknowledgement (AckInbox's callback, on nats.c's thread): handed to the run() thread.
  void on_reply(MsgPtr msg) {
    {
      std::lock_guard lock(mu);
      responses.push_back(std::move(msg));
    }
    cv.notify_all();
  }
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
  std::string subject_for(const Event& event) const;
  // Sends `p` guarded by what JetStream must hold last: a sequence (first publish after a sync)
  // or the previous message's id.
  void publish(Pending& p, std::uint64_t expect_seq, const std::string& expect_id);
  void fail(Pending& p, Failure kind, const std::string& why);

  // ---- the loop (session.cpp) ---------------------------------------------------------------
  void step(Clock::time_point next_flush);
  Clock::time_point earliest_deadline() const;
  void handle(natsMsg* msg);
  void expire();
  // Advances over the acknowledged prefix.
  void commit();
  void commit_front(std::uint64_t sequence);
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

  detail::AckInbox inbox_;
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

}  // namespace reflex::rnats::detail
