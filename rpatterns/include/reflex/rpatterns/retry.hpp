#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "reflex/consumer.hpp"
#include "reflex/errors.hpp"
#include "reflex/rpatterns/export.hpp"
#include "reflex/rpatterns/log.hpp"

namespace reflex::rpatterns {

/// Options of best_effort.
struct BestEffortOptions {
  /// Attempts after the first failure before the event is skipped.
  std::size_t retries = 3;
  /// Wait between attempts (wakes on stop).
  std::chrono::milliseconds retry_delay{std::chrono::milliseconds(100)};
  /// Gets one line per skipped event. Empty: stderr.
  LogFunc log{};
};

/// A consumer that retries a failing event `retries` times, then skips it: logged and counted,
/// and the cursor moves on. For side effects that may be lost (notifications, caches).
///
/// Stopping never skips: a stop request during the retries ends consume with Canceled, and a
/// failure while stop is requested is rethrown as is.
/// Thread-safety: as the inner consumer; skipped() from any thread.
/// Lifetime: shares ownership of the inner consumer.
class REFLEX_RPATTERNS_EXPORT BestEffortConsumer final : public Consumer {
 public:
  BestEffortConsumer(std::shared_ptr<Consumer> inner, BestEffortOptions options);

  [[nodiscard]] const std::string& name() const noexcept override { return inner_->name(); }
  void consume(std::stop_token stop, const Event& event) override;
  void reset() override { inner_->reset(); }
  void stop() override { inner_->stop(); }

  /// Events skipped so far.
  [[nodiscard]] std::uint64_t skipped() const noexcept { return skipped_.load(); }

 private:
  std::shared_ptr<Consumer> inner_;
  BestEffortOptions options_;
  std::atomic<std::uint64_t> skipped_{0};
};

/// Wraps `inner` (build it with make_consumer) into a best-effort consumer. Throws ConfigError
/// when `inner` is null.
[[nodiscard]] REFLEX_RPATTERNS_EXPORT std::shared_ptr<BestEffortConsumer> best_effort(
    std::shared_ptr<Consumer> inner, BestEffortOptions options = {});

/// A failure handed to a dead-letter recorder. Named fields, so the consumer name and the event
/// id cannot be swapped by accident.
struct DeadLetter {
  /// Name of the consumer that failed.
  std::string consumer{};
  /// The event it failed on (event.id is what an errors table keys on).
  Event event{};
  /// what() of the last failure.
  std::string error{};
  /// How many times the event was tried.
  std::size_t attempts = 0;
};

/// Records a dead letter durably (an errors table), idempotently per (consumer, event id). Throws
/// when it cannot.
using DeadLetterRecorder = std::function<void(std::stop_token, const DeadLetter&)>;

/// A recorder writing to an errors table: anything with `record(consumer, event_id, message)`,
/// such as reflex::rsql::ErrorsTable (kept generic so rpatterns needs no SQL library). The
/// consumer name and the event id go to their own columns, in that order.
template <class ErrorsTable>
[[nodiscard]] DeadLetterRecorder record_to(ErrorsTable table) {
  return [table = std::move(table)](std::stop_token, const DeadLetter& letter) {
    (void)table.record(letter.consumer, letter.event.id, letter.error);
  };
}

/// Options of dead_letter.
struct DeadLetterOptions {
  /// Attempts after the first failure before the event is recorded and skipped.
  std::size_t retries = 3;
  /// Wait between attempts (wakes on stop).
  std::chrono::milliseconds retry_delay{std::chrono::milliseconds(100)};
};

/// The recorder could not record a failed event, so the dead-letter consumer keeps the event:
/// the run fails on it. retryable() is the recorder error's.
class REFLEX_RPATTERNS_EXPORT DeadLetterError final : public Error {
 public:
  DeadLetterError(const std::string& what, std::exception_ptr consume_error,
                  std::exception_ptr record_error);
  [[nodiscard]] bool retryable() const noexcept override;
  /// What the consumer threw.
  [[nodiscard]] const std::exception_ptr& consume_error() const noexcept { return consume_error_; }
  /// What the recorder threw.
  [[nodiscard]] const std::exception_ptr& record_error() const noexcept { return record_error_; }

 private:
  std::exception_ptr consume_error_;
  std::exception_ptr record_error_;
};

/// A consumer that retries a failing event `retries` times, then records it with `record` and
/// moves on. When recording fails it throws DeadLetterError, so the run fails and the cursor
/// stays before the event: nothing is dropped unrecorded. Stopping never records: a stop request
/// during the retries ends consume with Canceled, and a failure while stop is requested is
/// rethrown as is.
///
/// Thread-safety: as the inner consumer and the recorder; recorded() from any thread.
/// Lifetime: shares ownership of the inner consumer; owns a copy of the recorder.
class REFLEX_RPATTERNS_EXPORT DeadLetterConsumer final : public Consumer {
 public:
  DeadLetterConsumer(std::shared_ptr<Consumer> inner, DeadLetterRecorder record,
                     DeadLetterOptions options);

  [[nodiscard]] const std::string& name() const noexcept override { return inner_->name(); }
  void consume(std::stop_token stop, const Event& event) override;
  void reset() override { inner_->reset(); }
  void stop() override { inner_->stop(); }

  /// Events recorded (and skipped) so far.
  [[nodiscard]] std::uint64_t recorded() const noexcept { return recorded_.load(); }

 private:
  std::shared_ptr<Consumer> inner_;
  DeadLetterRecorder record_;
  DeadLetterOptions options_;
  std::atomic<std::uint64_t> recorded_{0};
};

/// Wraps `inner` into a dead-letter consumer. Throws ConfigError when `inner` or `record` is
/// empty.
[[nodiscard]] REFLEX_RPATTERNS_EXPORT std::shared_ptr<DeadLetterConsumer> dead_letter(
    std::shared_ptr<Consumer> inner, DeadLetterRecorder record, DeadLetterOptions options = {});

}  // namespace reflex::rpatterns
