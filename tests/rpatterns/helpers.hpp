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
#include "reflex/mem_log.hpp"
#include "reflex/stream.hpp"
#include "reflex_test/durable_store.hpp"
#include "reflex_test/lines.hpp"
#include "reflex_test/streams.hpp"
#include "reflex_test/wait.hpp"

namespace rpatterns_test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using reflex_test::DurableStore;
using reflex_test::eventually;
using reflex_test::ids;
using reflex_test::LogLines;
using reflex_test::range_ids;
using reflex_test::recorded;
using reflex_test::SourceLog;

/// A MemLog of `events` events of type 1 with foreign ids "f1".."fN", and a DurableStore: what
/// most pattern tests run over.
struct LogAndStore {
  explicit LogAndStore(int events) {
    for (int i = 1; i <= events; ++i) log.append(1, "f" + std::to_string(i));
  }
  reflex::MemLog log;
  std::shared_ptr<DurableStore> store = std::make_shared<DurableStore>();
};

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

}  // namespace rpatterns_test
