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
/// at (a reader's calls forget every hole behind it). When that many are, a new one is probed at
/// once.
constexpr std::size_t kMaxSightings = 256;
}  // namespace

std::optional<std::chrono::steady_clock::time_point> grace_end(GapState& gap,
                                                               std::chrono::milliseconds grace,
                                                               const Hole& hole) {
  if (grace.count() <= 0) return std::nullopt;
  auto& seen = gap.sightings;
  // Every hole below this reader's position is closed for good (filled, or decided final): the
  // reader passed it, and every reader of this table reads the same server, so another reader
  // that meets it finds it closed too. Not by the horizon: it may end inside a hole that is still
  // open, whose sighting (keyed by the id before it) must stay, or that hole would get its grace
  // again at every read.
  seen.erase(seen.begin(), seen.lower_bound(hole.prev));
  const auto now = std::chrono::steady_clock::now();
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
