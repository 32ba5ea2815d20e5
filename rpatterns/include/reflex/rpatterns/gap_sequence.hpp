#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "reflex/rpatterns/export.hpp"

namespace reflex::rpatterns {

/// Tracks events that start in stream order but finish in any order, and tells how far the cursor
/// may move: to the newest event below which every event finished. Works with any id, numeric or
/// not, since it relies on start order alone.
///
/// Thread-safety: none; guard it with the lock that orders start() calls.
/// Lifetime: a value type.
class REFLEX_RPATTERNS_EXPORT GapSequence {
 public:
  using Ticket = std::uint64_t;

  /// Registers the next event in stream order; pass the ticket to finish().
  [[nodiscard]] Ticket start(std::string id);
  /// Marks the event of `ticket` finished. Returns the new cursor when the finished prefix grew,
  /// std::nullopt otherwise. Throws reflex::Error for a ticket that is not in flight.
  [[nodiscard]] std::optional<std::string> finish(Ticket ticket);
  /// Events started and not yet part of the finished prefix.
  [[nodiscard]] std::size_t pending() const noexcept { return entries_.size(); }

 private:
  struct Entry {
    std::string id;
    bool done = false;
  };
  std::deque<Entry> entries_;
  Ticket first_ = 0;  // ticket of entries_.front()
};

}  // namespace reflex::rpatterns
