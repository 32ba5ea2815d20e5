#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "reflex/consumer.hpp"
#include "reflex/cursor_store.hpp"
#include "reflex/rpatterns/export.hpp"
#include "reflex/run.hpp"

namespace reflex::rpatterns {

/// An event whose consumer decides when its cursor moves: ack() sets the cursor to this event
/// and flushes the store. Until then, a restart redelivers it (and everything after it).
///
/// Thread-safety: ack() may be called from any thread (cursor stores are thread-safe), also after
/// the run that delivered the event ended. Acks apply in the order they are called, so ack in
/// stream order: acking an older event after a newer one moves the cursor back.
/// Lifetime: a value; copies share the store.
class REFLEX_RPATTERNS_EXPORT AckEvent {
 public:
  AckEvent(Event event, std::shared_ptr<CursorStore> cursors,
           std::shared_ptr<const std::string> consumer_name)
      : event_(std::move(event)),
        cursors_(std::move(cursors)),
        consumer_name_(std::move(consumer_name)) {}

  [[nodiscard]] const Event& event() const noexcept { return event_; }
  /// Sets the consumer's cursor to this event's id and flushes the store.
  void ack() const;

 private:
  Event event_;
  std::shared_ptr<CursorStore> cursors_;
  std::shared_ptr<const std::string> consumer_name_;
};

using AckConsumeFunc = std::function<void(std::stop_token, const AckEvent&)>;

/// Options of ack_spec.
struct AckOptions {
  /// Filters, recovery and metrics of the consumer (see reflex::make_consumer).
  ConsumerOptions consumer{};
  StreamOptions stream{};
};

/// A spec whose consumer acks explicitly: `run`'s own per-event cursor updates are dropped, and
/// the cursor of `name` in `cursors` moves (and is flushed) only when the consumer calls
/// AckEvent::ack(). Useful when the effect of an event completes later (a batch, an async call).
[[nodiscard]] REFLEX_RPATTERNS_EXPORT Spec ack_spec(StreamFunc stream,
                                                    std::shared_ptr<CursorStore> cursors,
                                                    std::string name, AckConsumeFunc fn,
                                                    AckOptions options = {});

/// A view of `store` that ignores set() (get and flush pass through): for specs whose cursor is
/// moved by someone other than `run` (acks, batches, concurrent completion).
[[nodiscard]] REFLEX_RPATTERNS_EXPORT std::shared_ptr<CursorStore> no_set_view(
    std::shared_ptr<CursorStore> store);

}  // namespace reflex::rpatterns
