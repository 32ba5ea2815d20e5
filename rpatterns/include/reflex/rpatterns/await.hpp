#pragma once

#include <chrono>
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "reflex/rpatterns/export.hpp"
#include "reflex/stream.hpp"

namespace reflex::rpatterns {

/// What ended an await.
enum class AwaitResult {
  /// An event for the foreign id with one of the types arrived.
  event,
  /// The polled condition returned true.
  condition,
  /// The deadline passed first.
  timed_out,
};

/// Options of await.
struct AwaitOptions {
  /// The entity to wait for.
  std::string foreign_id{};
  /// Event types that end the wait (empty: any type).
  std::vector<int> types{};
  /// Polled every `poll_interval` (first right after the stream is open, so a change between the
  /// check and the subscription is not missed); true ends the wait. Empty: events only.
  std::function<bool(std::stop_token)> condition{};
  std::chrono::milliseconds poll_interval{std::chrono::seconds(1)};
  /// Give up at this time (default: never).
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

/// Waits until a new event (streamed from the head) for `options.foreign_id` with one of
/// `options.types` arrives, the condition holds, or the deadline passes. Throws Canceled when
/// stop is requested, and whatever the stream or the condition throws. The stream runs on a
/// thread that is stopped and joined before await returns.
[[nodiscard]] REFLEX_RPATTERNS_EXPORT AwaitResult await(std::stop_token stop,
                                                        const StreamFunc& stream,
                                                        const AwaitOptions& options);

}  // namespace reflex::rpatterns
