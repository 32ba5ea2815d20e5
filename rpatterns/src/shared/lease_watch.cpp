#include "lease_watch.hpp"

namespace reflex::rpatterns::detail {

LeaseWatch::LeaseWatch() : thread_([this](std::stop_token stop) { loop(stop); }) {}

LeaseWatch::~LeaseWatch() {
  thread_.request_stop();
  thread_.join();
}

void LeaseWatch::watch(std::size_t shard, std::stop_source run, Clock::time_point deadline) {
  {
    std::lock_guard lock(mutex_);
    entries_[shard] = Entry{.run = std::move(run), .deadline = deadline};
    ++changes_;
  }
  changed_.notify_all();
}

void LeaseWatch::extend(std::size_t shard, Clock::time_point deadline) {
  {
    std::lock_guard lock(mutex_);
    const auto found = entries_.find(shard);
    if (found == entries_.end() || found->second.lapsed) return;
    found->second.deadline = deadline;
    ++changes_;
  }
  changed_.notify_all();
}

void LeaseWatch::forget(std::size_t shard) {
  std::lock_guard lock(mutex_);
  entries_.erase(shard);
}

bool LeaseWatch::lapsed(std::size_t shard) const {
  std::lock_guard lock(mutex_);
  const auto found = entries_.find(shard);
  return found != entries_.end() && found->second.lapsed;
}

void LeaseWatch::loop(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    const auto now = Clock::now();
    auto next = Clock::time_point::max();
    for (auto& [shard, entry] : entries_) {
      if (entry.lapsed) continue;
      if (entry.deadline <= now) {
        entry.lapsed = true;
        entry.run.request_stop();
      } else {
        next = std::min(next, entry.deadline);
      }
    }
    // Woken by a new or moved deadline, by stop, or when the earliest deadline comes.
    const auto seen = changes_;
    const auto changed = [&] { return changes_ != seen; };
    if (next == Clock::time_point::max()) {
      changed_.wait(lock, stop, changed);
    } else {
      changed_.wait_until(lock, stop, next, changed);
    }
  }
}

}  // namespace reflex::rpatterns::detail
