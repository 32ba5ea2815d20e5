#pragma once
// SIGINT and SIGTERM as a stop request: long-running commands (tail, backfill, relay, serve) end
// cleanly on either, flushing cursors and draining streams.

#include <stop_token>
#include <thread>

namespace reflex_tools {

/// Blocks SIGINT and SIGTERM in the calling thread and every thread it starts later, so that
/// only SignalStop takes them. Call first thing in main(), before any thread exists.
void block_stop_signals();

/// Requests a stop when SIGINT or SIGTERM arrives (taken by a thread of its own with
/// sigtimedwait; block_stop_signals() must have run).
///
/// Thread-safety: token() from any thread. Lifetime: stops watching when destroyed.
class SignalStop {
 public:
  SignalStop();
  [[nodiscard]] std::stop_token token() const { return source_.get_token(); }

 private:
  std::stop_source source_;
  std::jthread watcher_;  // last: it uses source_
};

}  // namespace reflex_tools
