#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <stop_token>
#include <string>

#include "reflex/consumer.hpp"
#include "reflex/cursor_store.hpp"
#include "reflex/rpatterns/export.hpp"
#include "reflex/run.hpp"

namespace reflex::rpatterns {

/// Handles one batch of events, in stream order. Throwing fails the run; the batch is not acked.
using BatchConsumeFunc = std::function<void(std::stop_token, std::span<const Event>)>;

/// Options of batch_spec. At least one of max_size and window must be non-zero.
struct BatchOptions {
  /// Hand the batch over once it holds this many events (0: no size limit).
  std::size_t max_size = 0;
  /// Hand the batch over this long after its first event arrived, even if no further event comes
  /// (0: no time limit).
  std::chrono::milliseconds window{0};
  /// Only events it accepts enter batches (empty: all). Skipped events are acked with the next
  /// batch.
  EventFilter filter{};
  StreamOptions stream{};
};

/// A spec that delivers events to `fn` in batches, on a worker thread of the run, while the run
/// keeps reading the next batch. After `fn` succeeds the cursor of `name` is set to the batch's
/// last event and flushed. When `fn` throws, the run ends promptly with ConsumeError naming the
/// batch's first event, even while it is blocked waiting for events; the cursor stays at the
/// last acked batch, so the next run retries the failed batch. A `to_head` run hands over its
/// last partial batch before it ends with HeadReached; a stopped run drops unacked events (they
/// are delivered again).
///
/// A run that waits out `stream.lag` for an event notices a failure after that wait.
/// At most three batches are held (one in `fn`, one ready, one filling). Run the spec with one
/// reflex::run at a time. Throws ConfigError for options without a limit or an empty name.
[[nodiscard]] REFLEX_RPATTERNS_EXPORT Spec batch_spec(StreamFunc stream,
                                                      std::shared_ptr<CursorStore> cursors,
                                                      std::string name, BatchConsumeFunc fn,
                                                      BatchOptions options);

}  // namespace reflex::rpatterns
