#include "reflex/rpatterns/run_forever.hpp"

#include <algorithm>
#include <string>

#include "reflex/errors.hpp"
#include "reflex/wait.hpp"
#include "util.hpp"

namespace reflex::rpatterns {

namespace {

void check(const Spec& spec) {
  if (!spec.stream) throw ConfigError("rpatterns::run_forever: Spec.stream is empty");
  if (!spec.cursors) throw ConfigError("rpatterns::run_forever: Spec.cursors is null");
  if (!spec.consumer) throw ConfigError("rpatterns::run_forever: Spec.consumer is null");
}

/// The consumer's cursor, or a marker when the store cannot tell (counts as no progress).
std::string cursor_of(const Spec& spec) {
  try {
    return spec.cursors->get(spec.consumer->name());
  } catch (...) {
    return "\x01unknown";
  }
}

/// `base` doubled `times` times, at most `cap` (and at least `base`).
std::chrono::milliseconds grown(std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                int times) {
  auto wait = base;
  for (int i = 0; i < times && wait < cap; ++i) wait *= 2;
  return std::max(base, std::min(wait, cap));
}

std::string millis(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + "ms";
}

}  // namespace

RunEnd run_forever(std::stop_token stop, const Spec& spec, const RunForeverOptions& options) {
  check(spec);
  const LogFunc log = detail::or_stderr(options.log);
  const std::string& name = spec.consumer->name();
  int streak = 0;  // transient failures in a row without progress
  for (;;) {
    const std::string before = cursor_of(spec);
    std::exception_ptr failure;
    try {
      run(stop, spec);
    } catch (...) {
      failure = std::current_exception();
    }
    try {
      spec.consumer->stop();
    } catch (...) {
      detail::log_line(log, "reflex: stop hook of consumer \"" + name +
                                "\" failed: " + detail::describe(std::current_exception()));
    }
    if (!failure || stop.stop_requested()) return RunEnd::stopped;
    if (find_error<HeadReached>(failure) != nullptr) return RunEnd::head_reached;

    const bool transient = is_expected(failure) || is_retryable(failure);
    if (!transient || cursor_of(spec) != before) streak = 0;
    const auto backoff = transient ? grown(options.retry_backoff, options.error_backoff, streak++)
                                   : options.error_backoff;
    if (!is_expected(failure)) {
      detail::log_line(log, "reflex: consumer \"" + name + "\" failed, retrying in " +
                                millis(backoff) + ": " + detail::describe(failure));
    }
    if (!sleep_for(stop, backoff)) return RunEnd::stopped;
  }
}

Runner::Runner(Spec spec, RunForeverOptions options)
    : Runner(std::vector<Spec>{std::move(spec)}, std::move(options)) {}

Runner::Runner(std::vector<Spec> specs, RunForeverOptions options)
    : specs_(std::move(specs)), options_(std::move(options)) {
  for (const auto& spec : specs_) check(spec);
  options_.log = detail::or_stderr(std::move(options_.log));
  threads_.reserve(specs_.size());
  try {
    for (const auto& spec : specs_) {
      threads_.emplace_back([this, &spec](std::stop_token stop) {
        try {
          (void)run_forever(stop, spec, options_);
        } catch (...) {
          std::lock_guard lock(mu_);
          if (!failure_) failure_ = std::current_exception();
        }
      });
    }
  } catch (...) {
    // Could not start every thread: stop and join those that started.
    request_stop();
    wait();
    throw;
  }
}

Runner::~Runner() {
  request_stop();
  wait();
}

void Runner::request_stop() noexcept {
  // All first, then join: stopping N runs takes as long as the slowest, not their sum.
  for (auto& thread : threads_) thread.request_stop();
}

void Runner::wait() noexcept {
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

void Runner::join() {
  wait();
  std::lock_guard lock(mu_);
  if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
}

}  // namespace reflex::rpatterns
