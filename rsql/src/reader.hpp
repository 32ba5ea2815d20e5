#pragma once
// One stream's keyset reads of its table (`id > position ORDER BY id LIMIT n` on a connection of
// its own), stopping before a hole in the ids that may still fill: the dialect's gap policy
// decides (gap_policy.hpp). Reports polls, gaps and how long a hole holds the stream back.

#include <cstdint>
#include <memory>
#include <vector>

#include "driver.hpp"
#include "events_table_impl.hpp"

namespace reflex::rsql::detail {

/// Thread-safety: one thread at a time (a stream's). Lifetime: keeps its table alive.
class Reader final {
 public:
  explicit Reader(std::shared_ptr<EventsTableImpl> table) : table_(std::move(table)) {}

  /// The events after `after` (at most `limit` rows read) that are safe to deliver.
  [[nodiscard]] ReadResult read(std::int64_t after, std::size_t limit);
  /// The id of the newest row (0 when the table is empty).
  [[nodiscard]] std::int64_t head();

 private:
  Session& session();
  /// The gap policy of the current session.
  GapPolicy& policy();
  ReadResult read_checked(std::int64_t after, std::size_t limit);
  void note_blocked(std::int64_t at);
  void note_passed(std::int64_t position);

  std::shared_ptr<EventsTableImpl> table_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<GapPolicy> policy_;
  std::vector<Event> rows_;
  std::vector<std::int64_t> ids_;
};

}  // namespace reflex::rsql::detail
