#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>

#include "reflex/rpatterns/export.hpp"
#include "reflex/run.hpp"

namespace reflex::rpatterns {

/// A progress report of a running backfill.
struct BackfillProgress {
  /// Events consumed (including events the consumer filtered out) so far.
  std::uint64_t events = 0;
  std::chrono::nanoseconds elapsed{};
  /// Average rate since the start.
  double events_per_second = 0;
  /// Events known to be left before the head, when the source can tell (StreamClient::remaining).
  std::optional<std::uint64_t> remaining{};
  /// `remaining` divided by the rate, when both are known.
  std::optional<std::chrono::seconds> eta{};
  /// Id of the last consumed event ("" before the first).
  std::string cursor{};
};

/// What a backfill did.
struct BackfillSummary {
  std::uint64_t events = 0;
  std::chrono::nanoseconds duration{};
  /// The consumer's cursor afterwards: the last consumed event, or the starting cursor if none.
  std::string cursor{};
  /// True when it consumed everything up to the head; false when it was stopped first.
  bool reached_head = false;
};

/// Options of backfill.
struct BackfillOptions {
  /// Called on the run's thread at most once per `progress_interval`, and once at the end.
  std::function<void(const BackfillProgress&)> on_progress{};
  std::chrono::milliseconds progress_interval{std::chrono::seconds(1)};
};

/// Runs `spec` to the head (forcing `options.to_head`) once and returns a summary. A stop request
/// ends it early with `reached_head == false`; any other error is thrown as reflex::run throws it
/// (the cursor keeps the progress made, so calling backfill again resumes).
REFLEX_RPATTERNS_EXPORT BackfillSummary backfill(std::stop_token stop, Spec spec,
                                                 BackfillOptions options = {});

}  // namespace reflex::rpatterns
