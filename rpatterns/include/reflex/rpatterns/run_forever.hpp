#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include "reflex/rpatterns/export.hpp"
#include "reflex/rpatterns/log.hpp"
#include "reflex/run.hpp"

namespace reflex::rpatterns {

/// How run_forever waits between runs.
struct RunForeverOptions {
  /// Wait after an expected error (a source going away) or a retryable one (a server down). It
  /// doubles with each further such failure in a row that made no progress (the cursor did not
  /// move), up to `error_backoff`, so an outage is not hammered nor logged ten times a second.
  std::chrono::milliseconds retry_backoff{std::chrono::milliseconds(100)};
  /// Wait after any other error: a bug or bad data will not heal by itself, so do not spin on it.
  std::chrono::milliseconds error_backoff{std::chrono::minutes(1)};
  /// Gets one line per failed run (not for expected errors). Empty: stderr.
  LogFunc log{};
};

/// Why run_forever returned.
enum class RunEnd {
  /// Stop was requested.
  stopped,
  /// The spec streams `to_head` and consumed everything up to the head.
  head_reached,
};

/// Runs `spec` again and again until stop is requested: reflex::run fails fast, and this is the
/// supervisor that retries it. After each run the consumer's stop() hook is called; then it waits
/// `retry_backoff` (growing, see above) after expected or retryable errors and `error_backoff`
/// after others, logging all but expected ones. A `to_head` spec that reaches the head ends the
/// loop successfully.
///
/// Throws ConfigError at once for an incomplete spec; every later error is retried, never thrown.
/// Blocking: every wait wakes on `stop`.
REFLEX_RPATTERNS_EXPORT RunEnd run_forever(std::stop_token stop, const Spec& spec,
                                           const RunForeverOptions& options = {});

/// Runs specs with run_forever, each on its own thread, until stopped or (for `to_head` specs)
/// done.
///
/// Thread-safety: request_stop() may be called from any thread; join() from one thread at a time.
/// Lifetime: RAII. The destructor requests stop of every run and joins every thread, so no thread
/// outlives the runner. Specs are copied in; their stores and consumers must outlive the runner.
class REFLEX_RPATTERNS_EXPORT Runner final {
 public:
  /// Starts one thread per spec. Throws ConfigError (starting nothing) when a spec is incomplete.
  explicit Runner(std::vector<Spec> specs, RunForeverOptions options = {});
  explicit Runner(Spec spec, RunForeverOptions options = {});
  ~Runner();

  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;
  Runner(Runner&&) = delete;
  Runner& operator=(Runner&&) = delete;

  /// Asks every run to stop; returns at once (join() waits).
  void request_stop() noexcept;
  /// Waits until every run has ended. Rethrows the first exception that escaped a run's thread
  /// (only a throwing LogFunc or an out-of-memory condition can do that).
  void join();
  /// Number of specs run.
  [[nodiscard]] std::size_t size() const noexcept { return specs_.size(); }

 private:
  void wait() noexcept;

  std::vector<Spec> specs_;
  RunForeverOptions options_;
  std::mutex mu_;
  std::exception_ptr failure_;
  std::vector<std::jthread> threads_;
};

}  // namespace reflex::rpatterns
