#pragma once
// Riding out outages: the rule of reflex::rpatterns::run_forever for the tools' own loops
// (retryable failures are retried with backoff, the others end the command), and the log of an
// outage: one line when it starts and one when it ends. Nothing here knows about CLI11.

#include <chrono>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "reflex/stream.hpp"

namespace reflex_tools {

/// True when retrying can heal `error` by itself (run_forever's rule): a retryable reflex::Error
/// (a server down, a lost connection, a timeout) or an expected one (a source going away with
/// reflex::Stopped). Cancellation is not: the caller checks its own stop first.
[[nodiscard]] bool is_transient(const std::exception_ptr& error) noexcept;

/// One line describing `error`: the innermost message worth showing (see describe.cpp).
[[nodiscard]] std::string describe(const std::exception_ptr& error);

/// Waits between attempts: `first`, doubling up to `max`; reset() after a success.
class Backoff {
 public:
  explicit Backoff(std::chrono::milliseconds first = std::chrono::milliseconds(100),
                   std::chrono::milliseconds max = std::chrono::seconds(5))
      : first_(first), max_(max), next_(first) {}
  /// The wait before the next attempt; doubles the one after.
  [[nodiscard]] std::chrono::milliseconds next();
  void reset() { next_ = first_; }

 private:
  std::chrono::milliseconds first_, max_, next_;
};

/// What an operator's log shows of outages: "PROGRAM COMMAND: WHAT is down (WHY); retrying"
/// once when an outage begins, "PROGRAM COMMAND: WHAT is back after 3.2s" once when it ends.
/// Failures while it is down log nothing more, so a long outage is two lines, not one per retry.
///
/// Thread-safety: every member may be called from any thread.
class OutageLog {
 public:
  /// Where a line goes (a whole line, without its newline).
  using Sink = std::function<void(std::string_view line)>;

  /// `command` names the lines ("tail", "relay"); `sink` writes them (default: stderr).
  explicit OutageLog(std::string command, Sink sink = {})
      : command_(std::move(command)), sink_(std::move(sink)) {}

  /// Something failed: logs the start of an outage of `what` ("source postgresql://…") unless
  /// one is on already (then it stays the one that began first).
  void down(const std::string& what, const std::string& why);
  /// It works again: logs the end of the outage, with its length, when one is on.
  void back();
  [[nodiscard]] bool is_down() const;
  /// What is down ("" when nothing is).
  [[nodiscard]] std::string what() const;

 private:
  using Clock = std::chrono::steady_clock;
  void log(const std::string& message) const;

  std::string command_;
  Sink sink_;
  mutable std::mutex mu_;
  std::string what_;  // "" while up
  Clock::time_point since_{};
};

/// Whether `stream` answers: opens it at its head with to_head and reads once (an event or
/// HeadReached both prove it answers). Returns nullptr when it does, else what it failed with;
/// no answer within `timeout` is a reflex::Unavailable saying so. A stop of `stop` ends it with
/// reflex::Canceled.
[[nodiscard]] std::exception_ptr probe(std::stop_token stop, const reflex::StreamFunc& stream,
                                       std::chrono::milliseconds timeout);

}  // namespace reflex_tools
