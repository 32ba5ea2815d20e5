// SIGINT/SIGTERM handling (see signals.hpp).

#include "signals.hpp"

#include <signal.h>

namespace reflex_tools {
namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void block_stop_signals() {
  const sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SignalStop::SignalStop() {
  watcher_ = std::jthread([this](std::stop_token own) {
    const sigset_t set = stop_signals();
    // A short timeout so that destroying the watcher never waits long for a signal.
    while (!own.stop_requested()) {
      timespec timeout{0, 100'000'000};
      if (sigtimedwait(&set, nullptr, &timeout) > 0) {
        source_.request_stop();
        return;
      }
    }
  });
}

}  // namespace reflex_tools
