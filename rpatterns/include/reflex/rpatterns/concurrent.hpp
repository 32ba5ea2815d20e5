#pragma once

#include <cstddef>

#include "reflex/rpatterns/export.hpp"
#include "reflex/run.hpp"

namespace reflex::rpatterns {

/// Options of concurrent.
struct ConcurrentOptions {
  /// Events consumed at the same time (each on its own worker thread of the run).
  std::size_t max_in_flight = 8;
};

/// The spec `spec` with its consumer run on up to `max_in_flight` events at once. Events of one
/// foreign id may be consumed out of order and at the same time, so use it for independent,
/// slow events (calls to other services). The consumer must be thread-safe.
///
/// The cursor advances only to the newest event below which every event completed (GapSequence),
/// so a restart never skips an unfinished event. When the consumer throws, no further event is
/// started; the run ends with ConsumeError naming the failed event once the events in flight have
/// settled (they run to completion, with `stop` requested only if the run's stop is). A `to_head`
/// run waits for every event in flight before it ends with HeadReached.
///
/// Run the returned spec with one reflex::run at a time. Throws ConfigError for max_in_flight 0 or
/// an incomplete spec.
[[nodiscard]] REFLEX_RPATTERNS_EXPORT Spec concurrent(Spec spec, ConcurrentOptions options = {});

}  // namespace reflex::rpatterns
