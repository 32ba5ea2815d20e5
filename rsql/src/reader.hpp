#pragma once
// Keyset reads of an events table (`id > position ORDER BY id LIMIT n`), stopping before a hole
// in the ids that may still fill: the dialect's gap policy decides (gap_policy.hpp). Reports
// polls, gaps and how long a hole holds the stream back. A reader borrows a session of the
// table's pool while it reads and can give it back (release) once it has nothing to read, so
// streams waiting at the head hold no connection of their own.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "driver.hpp"
#include "events_table_impl.hpp"
#include "session_pool.hpp"

namespace reflex::rsql::detail {

/// Thread-safety: one thread at a time (a stream's, or the one fetch at the head). Lifetime:
/// keeps its table alive, except a table's own reader (made with a reference), which the table
/// outlives.
class Reader final {
 public:
  explicit Reader(std::shared_ptr<EventsTableImpl> table)
      : table_(table.get()), keep_alive_(std::move(table)) {}
  /// A reader the table itself owns (its head reader).
  explicit Reader(EventsTableImpl& table) : table_(&table) {}

  /// The events after `after` (at most `limit` rows read) that are safe to deliver.
  [[nodiscard]] ReadResult read(std::int64_t after, std::size_t limit);
  /// The id of the newest row (0 when the table is empty).
  [[nodiscard]] std::int64_t head();
  /// Gives the session back to the table's pool (and forgets its gap policy's state): the next
  /// read borrows one again.
  void release() noexcept;

 private:
  Session& session();
  /// Drops the session when its connection failed (the pool would close it anyway) and the gap
  /// policy with it.
  void forget_broken() noexcept;
  /// The gap policy of the current session.
  GapPolicy& policy();
  ReadResult read_checked(std::int64_t after, std::size_t limit);
  void note_blocked(std::int64_t at);
  void note_passed(std::int64_t position);

  EventsTableImpl* table_;
  std::shared_ptr<EventsTableImpl> keep_alive_;
  std::optional<SessionPool::Lease> session_;
  std::unique_ptr<GapPolicy> policy_;
  std::vector<Event> rows_;
  std::vector<std::int64_t> ids_;
};

}  // namespace reflex::rsql::detail
