#pragma once
// What a reader does at a hole in the ids, shared by the readers of one table and decided per
// dialect (postgres/gap_policy.cpp, mysql/gap_policy.cpp, sqlite/driver.cpp). The guarantee: a
// committed event is never skipped, even when it commits after later ids became visible.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "reflex/event.hpp"
#include "reflex/metrics.hpp"
#include "reflex/rsql/schema.hpp"

namespace reflex::rsql::detail {

class Session;

/// What a keyset read found.
struct ReadResult {
  /// Events safe to deliver, in id order (no-op rows hidden).
  std::vector<Event> events;
  /// The position the stream has reached (>= the last event's id: no-op rows count).
  std::int64_t position = 0;
  /// The read came back full: read again at once.
  bool full = false;
  /// A hole in the ids that may still fill holds the stream back: read again soon.
  bool blocked = false;
  /// With `blocked`, when known: when the hole's grace ends and a read would probe it. A commit
  /// that fills the hole wakes the stream sooner.
  std::optional<std::chrono::steady_clock::time_point> retry_at{};
};

/// Shared state of one events table object (all its streams).
struct GapState {
  /// Every id at or below this is final: committed and visible, or never to appear.
  std::atomic<std::int64_t> settled{0};
  std::mutex mutex;
  /// Dialect-specific probe state, guarded by mutex.
  std::int64_t probe_limit = 0;
  std::int64_t probe_xmax = 0;
  bool probe_pending = false;
  std::chrono::steady_clock::time_point probe_since{};
  /// When each hole in its grace (by the id before it) was first seen; several readers may wait
  /// at different holes (gap_grace.cpp).
  struct Sighting {
    std::chrono::steady_clock::time_point since{};
  };
  std::map<std::int64_t, Sighting> sightings;
  /// When the current blocking hole was first seen (for the gauge).
  std::int64_t hole_at = -1;
  /// PostgreSQL: the backend pid of the oldest writer older than the pending probe (0: none
  /// known); reported with the gauge.
  std::int64_t blocker_pid = 0;
  std::chrono::steady_clock::time_point hole_since{};
  /// PostgreSQL standby (postgres/gap_policy.cpp): `settled` was decided on the primary when its
  /// WAL insert position was `settled_lsn`; a standby session relies on it once it has replayed
  /// that far. Guarded by mutex, like `settled` itself there.
  std::int64_t settled_lsn = 0;
  /// A decision the standby has not replayed yet: ids up to `replay_limit` were final on the
  /// primary at its WAL position `replay_lsn`.
  bool replay_pending = false;
  std::int64_t replay_limit = 0;
  std::int64_t replay_lsn = 0;
  /// The table's one connection to the primary, which decides holes for its standby readers.
  std::unique_ptr<Session> primary;
  /// The primary's WAL page and segment sizes (bytes), read when `primary` connects.
  std::int64_t wal_page = 0;
  std::int64_t wal_segment = 0;
};

/// Everything a reader or gap policy needs to know about its table.
struct TableContext {
  EventsSchema schema;
  std::chrono::milliseconds gap_grace{};
  std::shared_ptr<TableMetrics> metrics;
  std::shared_ptr<GapState> gap;
};

/// What to do about a hole (prev, next) in the ids above the settled horizon.
enum class HoleDecision {
  /// The hole is final: deliver past it.
  pass,
  /// The horizon moved or the hole was filled: read again from the hole.
  reread,
  /// The hole may still fill: stop before it.
  block,
};

/// A hole in the ids a read returned: no row between `prev` and `next()`.
struct Hole {
  std::int64_t prev = 0;
  /// The ids the read returned from the row after the hole on (`ids[0]` is `next()`), and those
  /// rows (parallel; their timestamps say when each was written).
  std::span<const std::int64_t> ids;
  std::span<const Event> rows;
  [[nodiscard]] std::int64_t next() const noexcept { return ids.front(); }
};

/// What a gap policy decided, and with `pass`, how far: the read is complete up to `through` (an
/// id it returned, at least `next()`), so holes below it need no decision of their own.
struct HoleVerdict {
  HoleDecision decision = HoleDecision::block;
  std::int64_t through = 0;
  /// With `block`, when known: when deciding again may answer otherwise (the grace ends).
  std::optional<std::chrono::steady_clock::time_point> retry_at{};
};

/// While `hole` is in its grace, when the grace ends; else nothing (probe it now). A hole is in
/// its grace from when a reader of the table first sees it until `grace` later. Needs gap.mutex.
/// The probes are exact either way: the grace only saves those of holes that are about to fill.
[[nodiscard]] std::optional<std::chrono::steady_clock::time_point> grace_end(
    GapState& gap, std::chrono::milliseconds grace, const Hole& hole);

/// Decides about holes; one per reader (uses the reader's session).
///
/// Thread-safety: one reader's thread; state shared between readers lives in GapState.
class GapPolicy {
 public:
  virtual ~GapPolicy() = default;
  /// Once per session, before its first read (a ConfigError when the session's server cannot be
  /// read gap-safely as configured).
  virtual void on_connect(Session& session) { (void)session; }
  /// The horizon this reader's next read may rely on: every id at or below it is final, and every
  /// committed one among them is in the snapshot of any read the session starts from now on.
  [[nodiscard]] virtual std::int64_t settled(const GapState& gap) const {
    return gap.settled.load(std::memory_order_acquire);
  }
  virtual HoleVerdict on_hole(Session& session, const Hole& hole) = 0;
};

/// True for the rows a dialect writes to fill a hole (type 0, empty foreign id); never delivered.
inline bool is_noop(int type, std::string_view foreign_id) noexcept {
  return type == 0 && foreign_id.empty();
}

}  // namespace reflex::rsql::detail
