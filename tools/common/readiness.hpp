#pragma once
// Readiness of named backends (sources, a NATS connection), for /readyz: every backend is probed
// in the background, each on a thread of its own, again and again; a request reads the cached
// results. So a backend that hangs stalls neither a request nor the probes of the others.

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "reflex/stream.hpp"
#if defined(REFLEX_TOOLS_WITH_NATS)
#include "reflex/rnats/connection.hpp"
#endif

namespace reflex_tools {

struct ReadinessOptions {
  /// Pause between two probes of one source.
  std::chrono::milliseconds interval{1000};
  /// false: probe each source once only (a start-up check, with no /readyz to keep current).
  bool repeat = true;
  /// A probe without an answer for this long counts as failed ("no answer within …").
  std::chrono::milliseconds timeout{2000};
};

/// A backend probed for readiness: `probe` returns nullptr when it answers within the timeout, else
/// what it failed with; it returns soon after `stop` is requested.
struct ReadinessCheck {
  std::string name;
  std::function<std::exception_ptr(std::stop_token stop, std::chrono::milliseconds timeout)> probe;
};

/// The check of a source: opens it at its head with to_head and reads once (an event or
/// HeadReached both prove it answers; see probe() in outages.hpp).
[[nodiscard]] ReadinessCheck source_check(std::string name, reflex::StreamFunc stream);

#if defined(REFLEX_TOOLS_WITH_NATS)
/// The check of a NATS connection, named "nats": connected, and a round trip to the server
/// within the timeout.
[[nodiscard]] ReadinessCheck nats_check(reflex::rnats::Connection nats);
#endif

/// Probes each backend with its check; a probe without an answer for longer than the timeout
/// counts as failed.
///
/// Thread-safety: failures() from any thread. Lifetime: the destructor stops the probes and
/// waits for them.
class Readiness final {
 public:
  explicit Readiness(std::vector<ReadinessCheck> checks, ReadinessOptions options = {});
  /// Readiness of sources (source_check of each).
  explicit Readiness(std::vector<std::pair<std::string, reflex::StreamFunc>> sources,
                     ReadinessOptions options = {});
  ~Readiness();
  Readiness(const Readiness&) = delete;
  Readiness& operator=(const Readiness&) = delete;

  /// A backend that is not ready, and why.
  struct Unready {
    std::string name;
    std::string why;
  };

  /// Every backend that is not ready: its last probe failed, or the running one has had no
  /// answer for longer than the timeout. Empty when every backend is ready. Right after the
  /// start it waits (at most the timeout, or until `stop`) for the first probe of each, so that
  /// it never reports a backend it has not tried.
  [[nodiscard]] std::vector<Unready> unready(std::stop_token stop = {}) const;

  /// unready() as lines "NAME: why".
  [[nodiscard]] std::vector<std::string> failures() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Source {
    ReadinessCheck check;
    // Guarded by mu_.
    bool probed = false;
    std::string why;              // of the last probe; "" = it answered
    Clock::time_point running{};  // when the running probe began
    bool is_running = false;
  };

  void probe_forever(std::stop_token stop, Source& source);

  ReadinessOptions options_;
  Clock::time_point started_;
  mutable std::mutex mu_;
  mutable std::condition_variable_any cv_;
  std::vector<std::unique_ptr<Source>> sources_;
  std::vector<std::jthread> threads_;  // last: they use everything above
};

}  // namespace reflex_tools
