#include "reflex/consumer.hpp"

#include <algorithm>

#include "reflex/errors.hpp"

namespace reflex {

EventFilter all_of(std::vector<EventFilter> filters) {
  return [filters = std::move(filters)](const Event& e) {
    return std::all_of(filters.begin(), filters.end(), [&](const EventFilter& f) { return f(e); });
  };
}

EventFilter any_of(std::vector<EventFilter> filters) {
  return [filters = std::move(filters)](const Event& e) {
    return std::any_of(filters.begin(), filters.end(), [&](const EventFilter& f) { return f(e); });
  };
}

namespace {

using Clock = std::chrono::system_clock;

/// The consumer built by make_consumer: filters, then the user function, then recovery, recording
/// metrics through a recorder obtained once.
class FuncConsumer final : public Consumer {
 public:
  FuncConsumer(std::string name, ConsumeFunc fn, ConsumerOptions options)
      : name_(std::move(name)), fn_(std::move(fn)), options_(std::move(options)) {
    if (name_.empty()) throw ConfigError("make_consumer: the consumer name must not be empty");
    if (!fn_) throw ConfigError("make_consumer: consumer \"" + name_ + "\" has no function");
    std::sort(options_.include_types.begin(), options_.include_types.end());
    metrics_ =
        options_.metrics ? options_.metrics->consumer(name_, options_.metrics_options) : nullptr;
    measured_ = metrics_ != nullptr;
    if (!metrics_) metrics_ = null_consumer_metrics();
  }

  const std::string& name() const noexcept override { return name_; }

  void consume(std::stop_token stop, const Event& event) override {
    // Without an observer no clock is read on the per-event path.
    const auto start = measured_ ? Clock::now() : Clock::time_point{};
    const auto age = measured_ ? start - event.timestamp : Clock::duration{};
    if (!accepts(event)) {
      metrics_->on_skipped(age);
      return;
    }
    try {
      fn_(stop, event);
    } catch (...) {
      std::exception_ptr error = std::current_exception();
      if (options_.recover) error = options_.recover(stop, event, error);
      if (error) {
        metrics_->on_error(age);
        std::rethrow_exception(error);
      }
    }
    if (measured_) metrics_->on_consumed(age, Clock::now() - start);
  }

 private:
  bool accepts(const Event& event) const {
    const auto& types = options_.include_types;
    if (!types.empty() && !std::binary_search(types.begin(), types.end(), event.type)) return false;
    if (!options_.filter) return true;
    try {
      return options_.filter(event);
    } catch (...) {
      const std::exception_ptr cause = std::current_exception();
      std::string what = "filter of consumer \"" + name_ + "\" failed on event id=" + event.id;
      try {
        std::rethrow_exception(cause);
      } catch (const std::exception& e) {
        what += std::string(": ") + e.what();
      } catch (...) {
      }
      metrics_->on_error(Clock::now() - event.timestamp);
      throw FilterError(what, cause);
    }
  }

  std::string name_;
  ConsumeFunc fn_;
  ConsumerOptions options_;
  std::shared_ptr<ConsumerMetrics> metrics_;
  bool measured_ = false;
};

}  // namespace

std::shared_ptr<Consumer> make_consumer(std::string name, ConsumeFunc fn, ConsumerOptions options) {
  return std::make_shared<FuncConsumer>(std::move(name), std::move(fn), std::move(options));
}

}  // namespace reflex
