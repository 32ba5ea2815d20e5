#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "reflex/cursor_store.hpp"
#include "reflex/event.hpp"
#include "reflex/stream.hpp"
#include "reflex_test/wait.hpp"

namespace rpatterns_test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using reflex_test::eventually;

/// A cursor store whose sets become durable only on flush, so tests see what was flushed.
class DurableStore final : public reflex::CursorStore {
 public:
  std::string get(std::string_view name) override {
    std::lock_guard lock(mu_);
    auto it = durable_.find(std::string(name));
    return it == durable_.end() ? "" : it->second;
  }
  void set(std::string_view name, std::string_view cursor) override {
    std::lock_guard lock(mu_);
    pending_[std::string(name)] = cursor;
    ++sets_;
  }
  void flush() override {
    std::lock_guard lock(mu_);
    ++flushes_;
    for (auto& [k, v] : pending_) durable_[k] = v;
    pending_.clear();
  }
  std::string durable(const std::string& name) {
    std::lock_guard lock(mu_);
    return durable_.count(name) ? durable_[name] : "";
  }
  int flushes() {
    std::lock_guard lock(mu_);
    return flushes_;
  }
  int sets() {
    std::lock_guard lock(mu_);
    return sets_;
  }
  void seed(const std::string& name, const std::string& cursor) {
    std::lock_guard lock(mu_);
    durable_[name] = cursor;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> pending_, durable_;
  int flushes_ = 0;
  int sets_ = 0;
};

/// Event ids, for comparing sequences.
inline std::vector<std::string> ids(const std::vector<reflex::Event>& events) {
  std::vector<std::string> out;
  out.reserve(events.size());
  for (const auto& e : events) out.push_back(e.id);
  return out;
}

/// "1".."n".
inline std::vector<std::string> range_ids(int first, int last) {
  std::vector<std::string> out;
  for (int i = first; i <= last; ++i) out.push_back(std::to_string(i));
  return out;
}

/// Threads of this process (Linux): for "no thread left behind" checks.
inline std::size_t thread_count() {
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer starts a background thread of its own once a thread was created: make sure
  // it exists before any baseline is taken, so it is never counted as ours.
  static const bool warmed = [] {
    std::thread([] {}).join();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return true;
  }();
  (void)warmed;
#endif
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task")) {
    ++n;
  }
  return n;
}

/// Thread counts settle a moment after join (the kernel reaps the task): wait for the baseline.
inline bool threads_back_to(std::size_t baseline) {
  return eventually([&] { return thread_count() <= baseline; }, 2s);
}

/// A stream function that throws `error` from its first `failures` opens, then delegates.
inline reflex::StreamFunc failing_opens(reflex::StreamFunc inner, int failures,
                                        std::function<void()> error,
                                        std::shared_ptr<std::atomic<int>> opens) {
  return [=](std::stop_token stop, std::string_view after,
             const reflex::StreamOptions& o) -> std::unique_ptr<reflex::StreamClient> {
    const int n = ++*opens;
    if (n <= failures) error();
    return inner(std::move(stop), after, o);
  };
}

/// A stream function that counts the streams it has opened (after they are open), so tests can
/// wait for a subscription instead of sleeping.
inline reflex::StreamFunc counting_opens(reflex::StreamFunc inner,
                                         std::shared_ptr<std::atomic<int>> opened) {
  return [=](std::stop_token stop, std::string_view after,
             const reflex::StreamOptions& o) -> std::unique_ptr<reflex::StreamClient> {
    auto client = inner(std::move(stop), after, o);
    ++*opened;
    return client;
  };
}

}  // namespace rpatterns_test
