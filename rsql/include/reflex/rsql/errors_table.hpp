#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/rsql/database.hpp"
#include "reflex/rsql/events_table.hpp"
#include "reflex/rsql/export.hpp"
#include "reflex/rsql/schema.hpp"

namespace reflex::rsql {

/// State of a recorded error.
enum class ErrorStatus { open = 1, resolved = 2 };

/// One row of an errors table.
struct ErrorRecord {
  std::string id{};
  std::string consumer{};
  std::string event_id{};
  std::string message{};
  ErrorStatus status = ErrorStatus::open;
  std::chrono::system_clock::time_point created_at{};
  std::chrono::system_clock::time_point updated_at{};
};

/// The dead-letter table: a consumer's failures, one row per (consumer, event id). Each first
/// record of a failure also appends an event (type 1 = recorded, foreign id = the error's id) to
/// the errors' events table in the same transaction, so a repair job can stream them.
///
/// Thread-safety: all members may be called from several threads. Lifetime: a handle; copies
/// share their connection pool.
class REFLEX_RSQL_EXPORT ErrorsTable final {
 public:
  ErrorsTable(std::shared_ptr<Database> database, ErrorsSchema schema = {});

  /// Records that `consumer` failed on event `event_id` with `message`. Idempotent: recording
  /// the same (consumer, event id) again updates the message and time and keeps one row (and
  /// appends no second event). Returns the error's id.
  std::string record(std::string_view consumer, std::string_view event_id,
                     std::string_view message) const;

  /// The errors of a consumer (all when `consumer` is empty), oldest first.
  [[nodiscard]] std::vector<ErrorRecord> list(std::string_view consumer = {},
                                              std::size_t limit = 1000) const;
  /// Sets the status of an error by id; returns whether it exists.
  bool set_status(std::string_view error_id, ErrorStatus status) const;

  /// The errors' events table (stream it to follow new failures).
  [[nodiscard]] EventsTable events() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace reflex::rsql
