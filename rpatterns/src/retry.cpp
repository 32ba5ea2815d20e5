#include "reflex/rpatterns/retry.hpp"

#include "reflex/errors.hpp"
#include "reflex/wait.hpp"
#include "util.hpp"

namespace reflex::rpatterns {

namespace {

/// Calls `inner` up to 1 + retries times. Returns nullptr on success, else the last failure.
/// Rethrows at once what fails while stop is requested: a stopping run must not give up on an
/// event, it must leave it for the next run.
std::exception_ptr attempt(Consumer& inner, std::stop_token stop, const Event& event,
                           std::size_t retries, std::chrono::milliseconds delay,
                           std::size_t& attempts) {
  std::exception_ptr failure;
  for (attempts = 1;; ++attempts) {
    try {
      inner.consume(stop, event);
      return nullptr;
    } catch (...) {
      if (stop.stop_requested()) throw;
      failure = std::current_exception();
    }
    if (attempts > retries) return failure;
    if (!sleep_for(stop, delay)) {
      throw Canceled("stop was requested while retrying event id=" + event.id + " of consumer \"" +
                     inner.name() + "\" (last failure: " + detail::describe(failure) + ")");
    }
  }
}

}  // namespace

BestEffortConsumer::BestEffortConsumer(std::shared_ptr<Consumer> inner, BestEffortOptions options)
    : inner_(std::move(inner)), options_(std::move(options)) {
  if (!inner_) throw ConfigError("rpatterns::best_effort: the inner consumer is null");
  options_.log = detail::or_stderr(std::move(options_.log));
}

void BestEffortConsumer::consume(std::stop_token stop, const Event& event) {
  std::size_t attempts = 0;
  auto failure = attempt(*inner_, stop, event, options_.retries, options_.retry_delay, attempts);
  if (!failure) return;
  skipped_.fetch_add(1, std::memory_order_relaxed);
  detail::log_line(options_.log,
                   "reflex: best-effort consumer \"" + name() + "\" skipped event id=" + event.id +
                       " foreign_id=" + event.foreign_id + " after " + std::to_string(attempts) +
                       " attempts: " + detail::describe(failure));
}

std::shared_ptr<BestEffortConsumer> best_effort(std::shared_ptr<Consumer> inner,
                                                BestEffortOptions options) {
  return std::make_shared<BestEffortConsumer>(std::move(inner), std::move(options));
}

DeadLetterError::DeadLetterError(const std::string& what, std::exception_ptr consume_error,
                                 std::exception_ptr record_error)
    : Error(what),
      consume_error_(std::move(consume_error)),
      record_error_(std::move(record_error)) {}

bool DeadLetterError::retryable() const noexcept {
  return is_retryable(record_error_);
}

DeadLetterConsumer::DeadLetterConsumer(std::shared_ptr<Consumer> inner, DeadLetterRecorder record,
                                       DeadLetterOptions options)
    : inner_(std::move(inner)), record_(std::move(record)), options_(options) {
  if (!inner_) throw ConfigError("rpatterns::dead_letter: the inner consumer is null");
  if (!record_) {
    throw ConfigError("rpatterns::dead_letter: consumer \"" + inner_->name() +
                      "\" has no recorder");
  }
}

void DeadLetterConsumer::consume(std::stop_token stop, const Event& event) {
  std::size_t attempts = 0;
  auto failure = attempt(*inner_, stop, event, options_.retries, options_.retry_delay, attempts);
  if (!failure) return;
  DeadLetter letter{
      .consumer = name(), .event = event, .error = detail::describe(failure), .attempts = attempts};
  try {
    record_(stop, letter);
  } catch (...) {
    auto record_error = std::current_exception();
    throw DeadLetterError("dead-letter consumer \"" + name() +
                              "\" could not record its failure on event id=" + event.id + " (" +
                              letter.error + "): " + detail::describe(record_error) +
                              "; the event stays unconsumed",
                          failure, record_error);
  }
  recorded_.fetch_add(1, std::memory_order_relaxed);
}

std::shared_ptr<DeadLetterConsumer> dead_letter(std::shared_ptr<Consumer> inner,
                                                DeadLetterRecorder record,
                                                DeadLetterOptions options) {
  return std::make_shared<DeadLetterConsumer>(std::move(inner), std::move(record), options);
}

}  // namespace reflex::rpatterns
