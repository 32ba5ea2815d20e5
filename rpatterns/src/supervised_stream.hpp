#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <stop_token>

#include "reflex/stream.hpp"

namespace reflex::rpatterns::detail {

/// Background work of one run of a pattern's spec (worker threads, a batch timer). It is started
/// when `run` opens the stream and destroyed with the stream client, so its threads never outlive
/// the run, and its failures can end a run that is blocked in recv().
class RunWork {
 public:
  virtual ~RunWork() = default;  // implementations let running work finish and join threads

  /// The failure that ends the run, once the background hit one (after in-flight work settled);
  /// nullptr while there is none. Called before and after every recv, so it must be cheap.
  [[nodiscard]] virtual std::exception_ptr failure() = 0;

  /// The source reached its head: finish every accepted event (hand over partial batches, wait
  /// for events in flight) before the run ends. Failures are reported by failure() afterwards.
  virtual void drain(std::stop_token stop) = 0;
};

/// Starts the work of one run. `run_stop` is the run's stop token; `wake` interrupts the
/// source's blocked recv (request it when the run must end because of a background failure).
using StartWork =
    std::function<std::unique_ptr<RunWork>(std::stop_token run_stop, std::stop_source wake)>;

/// `inner` with the background work of `start` tied to each stream it opens: recv() throws the
/// work's failure as soon as there is one (waking a blocked recv), and drains the work before it
/// passes HeadReached on.
[[nodiscard]] StreamFunc supervised(StreamFunc inner, StartWork start);

}  // namespace reflex::rpatterns::detail
