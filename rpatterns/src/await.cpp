#include "reflex/rpatterns/await.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "reflex/errors.hpp"

namespace reflex::rpatterns {

namespace {

using Clock = std::chrono::steady_clock;

/// What the listener thread reports to the waiting caller.
struct Listening {
  std::mutex mu;
  std::condition_variable_any cv;
  bool open = false;
  bool matched = false;
  std::exception_ptr error;
};

bool matches(const Event& event, const AwaitOptions& options) {
  if (event.foreign_id != options.foreign_id) return false;
  return options.types.empty() ||
         std::find(options.types.begin(), options.types.end(), event.type) != options.types.end();
}

void listen(std::stop_token stop, const StreamFunc& stream, const AwaitOptions& options,
            Listening& state) {
  try {
    auto client = stream(stop, "", StreamOptions{.lag = {}, .from_head = true, .to_head = false});
    if (!client) throw Error("rpatterns::await: the stream function returned null");
    {
      std::lock_guard lock(state.mu);
      state.open = true;
    }
    state.cv.notify_all();
    for (;;) {
      if (matches(client->recv(), options)) {
        std::lock_guard lock(state.mu);
        state.matched = true;
        break;
      }
    }
  } catch (...) {
    if (stop.stop_requested()) return;  // await is done: nothing to report
    std::lock_guard lock(state.mu);
    state.error = std::current_exception();
  }
  state.cv.notify_all();
}

}  // namespace

AwaitResult await(std::stop_token stop, const StreamFunc& stream, const AwaitOptions& options) {
  if (!stream) throw ConfigError("rpatterns::await: the stream function is empty");
  if (options.condition && options.poll_interval.count() <= 0) {
    throw ConfigError("rpatterns::await: AwaitOptions.poll_interval must be positive");
  }
  Listening state;
  // Declared after `state`, so it is stopped and joined before `state` goes away.
  std::jthread listener(
      [&](std::stop_token own) { listen(std::move(own), stream, options, state); });
  std::stop_callback follow(stop, [&] { listener.request_stop(); });

  std::unique_lock lock(state.mu);
  const auto settled = [&] { return state.matched || state.error != nullptr; };
  const auto wait_until = [&](Clock::time_point at, auto pred) {
    // time_point::max() means no deadline; keep it out of the clock arithmetic of timed waits.
    if (at == Clock::time_point::max()) {
      state.cv.wait(lock, stop, pred);
    } else {
      state.cv.wait_until(lock, stop, at, pred);
    }
  };
  // Poll only once the subscription is open: a change right before it is then seen by the poll,
  // a change right after it by the stream.
  wait_until(options.deadline, [&] { return state.open || settled(); });
  for (;;) {
    if (state.error) std::rethrow_exception(state.error);
    if (state.matched) return AwaitResult::event;
    if (stop.stop_requested()) throw Canceled("rpatterns::await: stop was requested");
    if (Clock::now() >= options.deadline) return AwaitResult::timed_out;
    auto wake_at = options.deadline;
    if (options.condition && state.open) {
      lock.unlock();
      const bool holds = options.condition(stop);
      lock.lock();
      if (holds) return AwaitResult::condition;
      const auto next_poll = Clock::now() + options.poll_interval;
      wake_at = std::min(wake_at, next_poll);
    }
    wait_until(wake_at, settled);
  }
}

}  // namespace reflex::rpatterns
