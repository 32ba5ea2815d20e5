#pragma once

#include <chrono>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

#include "reflex/rnats/rnats.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/nats.hpp"
#include "reflex_test/wait.hpp"

namespace rnats_test {

using namespace std::chrono_literals;

using reflex_test::connect;
using reflex_test::TempBucket;
using reflex_test::TempStream;

/// Runs `relay` on a thread of its own from construction until stop() or destruction; error()
/// is what its run() threw (null while it runs and after it returned normally). stop() returns
/// once run() did: a relay honours a stop at once, after letting in-flight publishes settle
/// for at most its ack_timeout.
class RunningRelay {
 public:
  explicit RunningRelay(reflex::rnats::Relay& relay)
      : thread_([this, &relay](std::stop_token stop) {
          try {
            relay.run(stop);
          } catch (...) {
            std::lock_guard lock(mu_);
            error_ = std::current_exception();
          }
        }) {}
  void stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] std::exception_ptr error() {
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  std::mutex mu_;
  std::exception_ptr error_;
  std::jthread thread_;  // last: it starts once the members it writes exist
};

using reflex_test::eventually;

}  // namespace rnats_test
