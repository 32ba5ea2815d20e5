#pragma once
// Stops the run of a shard whose lease this member could not confirm in time: a renewal that
// hangs (the store is unreachable) must not keep a run going past the moment another member may
// take the shard.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <stop_token>
#include <thread>

namespace reflex::rpatterns::detail {

/// A thread that requests stop of each watched run when its deadline passes without a later
/// extend(). The coordinator sets the deadline of a shard to the time its latest confirmed renewal
/// was sent plus the lease time less a safety margin.
///
/// Thread-safety: every member may be called from any thread. Lifetime: RAII; the destructor
/// stops and joins the thread.
class LeaseWatch final {
 public:
  using Clock = std::chrono::steady_clock;

  LeaseWatch();
  ~LeaseWatch();
  LeaseWatch(const LeaseWatch&) = delete;
  LeaseWatch& operator=(const LeaseWatch&) = delete;

  /// Watches `shard`: `run` is stopped at `deadline` unless extended.
  void watch(std::size_t shard, std::stop_source run, Clock::time_point deadline);
  /// Moves the deadline of `shard` (nothing once it lapsed).
  void extend(std::size_t shard, Clock::time_point deadline);
  void forget(std::size_t shard);
  /// True once the deadline of `shard` passed and its run was told to stop.
  [[nodiscard]] bool lapsed(std::size_t shard) const;

 private:
  struct Entry {
    std::stop_source run;
    Clock::time_point deadline;
    bool lapsed = false;
  };
  void loop(std::stop_token stop);

  mutable std::mutex mutex_;
  std::condition_variable_any changed_;
  std::map<std::size_t, Entry> entries_;
  std::uint64_t changes_ = 0;  // counts watch() and extend() calls, to wake the thread
  std::jthread thread_;        // last: started after, and joined before, the state it uses
};

}  // namespace reflex::rpatterns::detail
