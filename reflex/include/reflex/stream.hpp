#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string_view>

#include "reflex/event.hpp"
#include "reflex/export.hpp"

namespace reflex {

/// How a stream starts and ends.
struct StreamOptions {
  /// Deliver an event only once it is at least this old. `run` applies lag itself; a source that
  /// receives a non-zero lag directly honours it too.
  std::chrono::milliseconds lag{0};
  /// Ignore the cursor and start after the newest event at the time the stream opens.
  bool from_head = false;
  /// Throw HeadReached as soon as no further event is available, instead of waiting for more.
  bool to_head = false;

  friend bool operator==(const StreamOptions&, const StreamOptions&) = default;
};

/// The longest lag reflex takes: a century. Longer is a unit mistake (and would overflow the
/// clock's arithmetic: a time_point holds about 292 years around 1970).
inline constexpr std::chrono::milliseconds kMaxLag = std::chrono::hours(24 * 365 * 100);

/// Throws ConfigError naming the value when `options.lag` is negative or longer than kMaxLag.
/// run() and every source of reflex check the options they are given.
REFLEX_CORE_EXPORT void check_stream_options(const StreamOptions& options);

/// One open stream of events, in source order.
///
/// Thread-safety: one thread at a time (a stream is consumed by one reader).
/// Lifetime: destroying the client closes the stream and releases its resources.
class REFLEX_CORE_EXPORT StreamClient {
 public:
  virtual ~StreamClient() = default;

  /// Blocks until the next event is available and returns it. Throws HeadReached (to_head done),
  /// Canceled (the stream's stop token was triggered), Stopped (the source is going away) or
  /// another reflex::Error.
  [[nodiscard]] virtual Event recv() = 0;

  /// How many events are known to be available after the last one returned, when the source can
  /// tell cheaply (for progress reports); std::nullopt otherwise.
  [[nodiscard]] virtual std::optional<std::uint64_t> remaining() const { return std::nullopt; }
};

/// Opens a stream of the events after the cursor `after` (exclusive; "" = from the beginning).
/// The stop token cancels blocked `recv` calls of the returned client.
using StreamFunc = std::function<std::unique_ptr<StreamClient>(
    std::stop_token stop, std::string_view after, const StreamOptions& options)>;

}  // namespace reflex
