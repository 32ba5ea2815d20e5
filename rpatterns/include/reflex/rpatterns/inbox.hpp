#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "reflex/consumer.hpp"
#include "reflex/rpatterns/export.hpp"

namespace reflex::rpatterns {

/// Remembers which events were handled, by source (the stream they came from: a table, a peer, a
/// JetStream stream) and event id, so that an event delivered again is recognised. The SQL one is
/// rsql::Inbox, which can also record inside the caller's own transaction.
///
/// Thread-safety: implementations shipped with reflex may be called from any thread.
class REFLEX_RPATTERNS_EXPORT Inbox {
 public:
  virtual ~Inbox() = default;
  /// True when (source, event_id) was recorded.
  [[nodiscard]] virtual bool contains(std::string_view source, std::string_view event_id) = 0;
  /// Records (source, event_id); false when it was recorded already.
  virtual bool record(std::string_view source, std::string_view event_id) = 0;
};

/// A consumer that hands `inner` only the events `inbox` has not recorded for `source`, and
/// records each one after `inner` consumed it without throwing. Its name is inner's.
///
/// What it guarantees: an event delivered again after it was recorded is skipped, whatever the
/// cursor says (a rewound cursor, a redelivery, a second source of the same events). What it
/// cannot: an effect outside the inbox's database that happened just before a crash is repeated
/// (it was not recorded yet), so effects are at least once, and exactly once only when recorded
/// in the effect's own transaction (rsql's `Inbox::record` on the caller's transaction).
[[nodiscard]] REFLEX_RPATTERNS_EXPORT std::shared_ptr<Consumer> deduplicated(
    std::shared_ptr<Inbox> inbox, std::string source, std::shared_ptr<Consumer> inner);

}  // namespace reflex::rpatterns
