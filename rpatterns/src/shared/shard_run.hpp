#pragma once
// One shard this member holds, run on a thread of its own while the lease lasts.

#include <atomic>
#include <functional>
#include <stop_token>
#include <thread>

#include "fenced_cursors.hpp"
#include "reflex/rpatterns/run_forever.hpp"
#include "reflex/rpatterns/shared.hpp"

namespace reflex::rpatterns::detail {

/// Runs `make_spec(context)` with run_forever (restarted after failures, with its backoff) until
/// stopped, with the shard's cursor written through its lease. A cursor write refused as fenced
/// out stops the run by itself (fenced() is then true).
///
/// Thread-safety: every member may be called from any thread. Lifetime: RAII; the destructor
/// stops and joins the thread; `on_exit` is called on the run's thread after the run ended and
/// its cursor was flushed, and must outlive this object.
class ShardRun final {
 public:
  /// `context` without `cursors`, which this object makes from `shard` and `flush_interval`.
  ShardRun(ShardContext context, FencedShard shard, std::chrono::milliseconds flush_interval,
           ShardSpecFunc make_spec, RunForeverOptions restart, std::function<void()> on_exit);
  ~ShardRun();
  ShardRun(const ShardRun&) = delete;
  ShardRun& operator=(const ShardRun&) = delete;

  /// What stops the run (for LeaseWatch).
  [[nodiscard]] std::stop_source stop_source() const noexcept { return stop_; }
  void request_stop() noexcept { stop_.request_stop(); }
  /// The run ended (stopped, or a to_head spec reached the head); join() returns at once.
  [[nodiscard]] bool finished() const noexcept { return finished_.load(); }
  /// A cursor write was refused: another member took the shard.
  [[nodiscard]] bool fenced() const noexcept { return fenced_.load(); }
  void join();

 private:
  void body(std::stop_token stop, ShardContext context, const ShardSpecFunc& make_spec,
            const RunForeverOptions& restart);

  std::atomic<bool> finished_{false};
  std::atomic<bool> fenced_{false};
  std::function<void()> on_exit_;
  // Not the thread's own: the fenced cursor store, made before the thread, stops the run with it.
  std::stop_source stop_;
  std::jthread thread_;  // last: started after the state it uses
};

}  // namespace reflex::rpatterns::detail
