#include "reflex/rpatterns/gap_sequence.hpp"

#include "reflex/errors.hpp"

namespace reflex::rpatterns {

GapSequence::Ticket GapSequence::start(std::string id) {
  entries_.push_back(Entry{.id = std::move(id), .done = false});
  return first_ + entries_.size() - 1;
}

std::optional<std::string> GapSequence::finish(Ticket ticket) {
  if (ticket < first_ || ticket - first_ >= entries_.size() || entries_[ticket - first_].done) {
    throw Error("GapSequence: ticket " + std::to_string(ticket) +
                " is not in flight (finished twice, or never started)");
  }
  entries_[ticket - first_].done = true;
  if (ticket != first_) return std::nullopt;  // an older event is still running
  std::string cursor;
  while (!entries_.empty() && entries_.front().done) {
    cursor = std::move(entries_.front().id);
    entries_.pop_front();
    ++first_;
  }
  return cursor;
}

}  // namespace reflex::rpatterns
