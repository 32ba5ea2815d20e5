#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <stop_token>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "reflex/event.hpp"
#include "reflex/export.hpp"
#include "reflex/metrics.hpp"

namespace reflex {

/// Business logic run on each event of a stream. The name identifies the consumer's cursor and its
/// metrics, so it must be stable across restarts.
///
/// Thread-safety: `run` calls a consumer from one thread; a consumer shared by several concurrent
/// runs must be thread-safe itself. Lifetime: must outlive the runs using it.
class REFLEX_CORE_EXPORT Consumer {
 public:
  virtual ~Consumer() = default;

  [[nodiscard]] virtual const std::string& name() const noexcept = 0;
  /// Handles one event. Throwing stops the run without advancing the cursor past this event.
  virtual void consume(std::stop_token stop, const Event& event) = 0;
  /// Called by `run` before streaming starts (drop in-memory state from an earlier run).
  virtual void reset() {}
  /// Called by runners (run_forever and friends) after a run ended, before the next one starts.
  virtual void stop() {}
};

/// Decides whether an event is handed to the consumer (true) or skipped (false).
using EventFilter = std::function<bool(const Event&)>;

/// Sees a consumer error and returns what to do with it: nullptr swallows it (the event counts as
/// consumed), the same exception keeps it, another exception replaces it.
using RecoverFunc =
    std::function<std::exception_ptr(std::stop_token, const Event&, std::exception_ptr)>;

/// A filter that passes events accepted by every filter (an empty list passes everything).
[[nodiscard]] REFLEX_CORE_EXPORT EventFilter all_of(std::vector<EventFilter> filters);
/// A filter that passes events accepted by at least one filter (an empty list passes nothing).
[[nodiscard]] REFLEX_CORE_EXPORT EventFilter any_of(std::vector<EventFilter> filters);

/// Integer values of event types, for ConsumerOptions::include_types: `types(Kind::A, Kind::B)`.
template <EventType... T>
[[nodiscard]] std::vector<int> types(T... values) {
  return {type_value(values)...};
}

/// Options of make_consumer. Use designated initializers:
/// `make_consumer("mail", fn, {.include_types = types(UserEvent::Created)})`.
struct ConsumerOptions {
  /// Only these types reach the consumer (empty: all types). Others are skipped.
  std::vector<int> include_types{};
  /// Only events it accepts reach the consumer. A filter that throws fails with FilterError.
  EventFilter filter{};
  /// Called with every error the consumer throws; see RecoverFunc.
  RecoverFunc recover{};
  /// Thresholds of the lag-alert and active gauges.
  ConsumerMetricsOptions metrics_options{};
  /// Where measurements go; nullptr records nothing.
  std::shared_ptr<MetricsObserver> metrics{};
};

/// The consumer function forms accepted by make_consumer.
using ConsumeFunc = std::function<void(std::stop_token, const Event&)>;

/// Builds a Consumer from a function, adding filtering, recovery and metrics.
[[nodiscard]] REFLEX_CORE_EXPORT std::shared_ptr<Consumer> make_consumer(
    std::string name, ConsumeFunc fn, ConsumerOptions options = {});

/// Overload for functions that take only the event.
template <class F>
requires(std::is_invocable_v<F&, const Event&> &&
         !std::is_invocable_v<F&, std::stop_token, const Event&>)
    [[nodiscard]] std::shared_ptr<Consumer> make_consumer(std::string name, F fn,
                                                          ConsumerOptions options = {}) {
  return make_consumer(
      std::move(name),
      ConsumeFunc([fn = std::move(fn)](std::stop_token, const Event& e) mutable { fn(e); }),
      std::move(options));
}

}  // namespace reflex
