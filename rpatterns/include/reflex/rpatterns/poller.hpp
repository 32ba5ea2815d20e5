#pragma once

#include <chrono>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/rpatterns/export.hpp"
#include "reflex/stream.hpp"

namespace reflex::rpatterns {

/// Returns the next page of events after cursor `after` (exclusive, "" = from the beginning), in
/// a stable order, or an empty page when there is nothing new. Event ids are the cursors.
using FetchFunc = std::function<std::vector<Event>(std::stop_token stop, std::string_view after)>;

/// Options of poller.
struct PollerOptions {
  /// Wait after the first empty page; each further empty page doubles it up to max_idle_backoff.
  /// A non-empty page resets it.
  std::chrono::milliseconds idle_backoff{std::chrono::milliseconds(100)};
  std::chrono::milliseconds max_idle_backoff{std::chrono::seconds(5)};
  /// Cursor of the newest event, for `from_head`. Empty: from_head pages through to the end.
  std::function<std::string(std::stop_token)> head{};
};

/// A StreamFunc over a paginated pull API (pull to push). Errors of `fetch` end the stream (the
/// run fails and its supervisor retries); a page that repeats the cursor's own event throws
/// CursorError (`after` must be exclusive). Honours from_head, to_head and lag; every wait wakes
/// on stop.
[[nodiscard]] REFLEX_RPATTERNS_EXPORT StreamFunc poller(FetchFunc fetch,
                                                        PollerOptions options = {});

}  // namespace reflex::rpatterns
