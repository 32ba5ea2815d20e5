#include "reflex/wait.hpp"

#include <condition_variable>
#include <mutex>

namespace reflex {

bool sleep_for(std::stop_token stop, std::chrono::nanoseconds duration) {
  if (duration <= std::chrono::nanoseconds::zero()) return !stop.stop_requested();
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  // Nothing but the stop request ends the wait early.
  cv.wait_for(lock, stop, duration, [] { return false; });
  return !stop.stop_requested();
}

bool sleep_until(std::stop_token stop, std::chrono::system_clock::time_point deadline) {
  // Convert to a steady delay so a wall-clock step does not stretch the wait.
  return sleep_for(stop, deadline - std::chrono::system_clock::now());
}

}  // namespace reflex
