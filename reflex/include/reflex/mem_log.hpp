#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "reflex/event.hpp"
#include "reflex/export.hpp"
#include "reflex/stream.hpp"

namespace reflex {

namespace detail {
struct MemLogState;
}  // namespace detail

/// A thread-safe, append-only, in-memory event log with ids "1", "2", "3", ... It is a StreamFunc
/// source for tests, demos and embedding (not a stand-in for a database). Appends wake blocked
/// readers at once; from_head, to_head and lag are honoured.
///
/// Thread-safety: every member may be called from any thread.
/// Lifetime: stream functions and open streams share the log's storage and stay valid after the
/// MemLog object is destroyed.
class REFLEX_CORE_EXPORT MemLog final {
 public:
  MemLog();

  /// Appends an event stamped now and returns it with its id.
  Event append(int type, std::string foreign_id, std::string metadata = {}, std::string trace = {});
  /// Appends `event` as given (its timestamp is kept; now when unset); the id is assigned here.
  Event append(Event event);

  /// Number of events appended so far (also the id of the newest one).
  [[nodiscard]] std::size_t size() const;
  /// Copies of the events with ids in [first, first + count).
  [[nodiscard]] std::vector<Event> events(std::size_t first_id = 1,
                                          std::size_t count = static_cast<std::size_t>(-1)) const;

  /// Makes every open stream end with Stopped (new streams still work): a source going away.
  void stop_streams();

  /// Streams of this log. Cursors are event ids; a cursor that is not a non-negative integer gives
  /// CursorError.
  [[nodiscard]] StreamFunc stream_func() const;

 private:
  std::shared_ptr<detail::MemLogState> state_;  // shared with the log's streams
};

}  // namespace reflex
