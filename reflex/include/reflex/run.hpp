#pragma once

#include <memory>
#include <stop_token>

#include "reflex/consumer.hpp"
#include "reflex/cursor_store.hpp"
#include "reflex/export.hpp"
#include "reflex/stream.hpp"

namespace reflex {

/// Everything `run` needs: where events come from, where the cursor lives, what consumes them.
///
/// Lifetime: a value type; copies share the store and consumer.
struct Spec {
  StreamFunc stream{};
  std::shared_ptr<CursorStore> cursors{};
  std::shared_ptr<Consumer> consumer{};
  StreamOptions options{};
};

/// Streams events after the consumer's cursor into the consumer, at least once each, in order.
///
/// Gets the cursor; resets the consumer; opens the stream after the cursor; for each event waits
/// until it is older than `options.lag`, consumes it and sets the cursor (skipped events advance it
/// too). On any error it stops without advancing the cursor past the failed event and rethrows
/// (consumer failures as ConsumeError naming the consumer, event id and foreign id). The cursor
/// store is flushed on every exit. Returns normally only when `stop` was requested; a to_head
/// stream ends with HeadReached.
///
/// Thread-safety: concurrent runs of distinct specs are independent.
REFLEX_CORE_EXPORT void run(std::stop_token stop, const Spec& spec);

}  // namespace reflex
