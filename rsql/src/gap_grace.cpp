// The grace a fresh hole in the ids gets before a reader probes it, the same for every dialect
// that probes (postgres/gap_policy.cpp, mysql/gap_policy.cpp). Most holes at the head are a
// commit in flight: the writer drew its id, a later id committed first, and the writer's own
// commit (and its wake-up) follows within a millisecond or two. Probing such a hole costs the
// reader several statements (PostgreSQL: one of them takes a transaction id; MariaDB: a no-op
// row written or waited for) while the stream could simply read again when the commit wakes it.

#include "gap_policy.hpp"

namespace reflex::rsql::detail {

namespace {
/// The most holes in their grace remembered at once: far more than the readers of one table wait
/// at. When that many are, a new one is probed at once.
constexpr std::size_t kMaxSightings = 256;
/// How long a sighting is kept after its grace ended: a reader that comes back to its hole
/// (at the grace's end, or woken by a commit) finds it, so no hole gets its grace twice while
/// readers wait at it, and those of holes filled meanwhile do not pile up.
constexpr std::chrono::seconds kKeepAfterGrace{1};
}  // namespace

std::optional<std::chrono::steady_clock::time_point> grace_end(GapState& gap,
                                                               std::chrono::milliseconds grace,
                                                               const Hole& hole) {
  if (grace.count() <= 0) return std::nullopt;
  auto& seen = gap.sightings;
  const auto now = std::chrono::steady_clock::now();
  // Forgotten only long after their grace ended: a hole forgotten while a reader waits at it
  // would get its grace again, and again. (Not by the horizon either: it may end inside a hole
  // that is still open, past the id a sighting is known by.)
  if (seen.size() >= kMaxSightings / 2) {
    std::erase_if(seen,
                  [&](const auto& s) { return now - s.second.since > grace + kKeepAfterGrace; });
  }
  auto it = seen.find(hole.prev);
  if (it == seen.end()) {
    if (seen.size() >= kMaxSightings) return std::nullopt;
    it = seen.emplace(hole.prev, GapState::Sighting{.since = now}).first;
  }
  const auto end = it->second.since + grace;
  if (now < end) return end;
  return std::nullopt;
}

}  // namespace reflex::rsql::detail
