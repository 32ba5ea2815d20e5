#pragma once
// Waiting for a condition instead of sleeping for a guessed time: a test that waits on what it
// needs is as fast as the machine allows and does not flake when the machine is slow.

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

namespace reflex_test {

/// Polls `condition` until it holds or `timeout` passes; returns its last value, so a caller
/// writes `ASSERT_TRUE(eventually(...)) << "what did not happen"`. Time bounds: returns as soon as
/// `condition` holds, and at the latest one pause and one evaluation of `condition` after
/// `timeout` (default 10 s). Pauses start at 1 ms and double up to 10 ms, so a quick condition is
/// seen at once and a slow one costs little CPU.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace reflex_test
