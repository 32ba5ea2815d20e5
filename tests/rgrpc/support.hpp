#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "reflex/errors.hpp"
#include "reflex/stream.hpp"
#include "reflex_test/streams.hpp"
#include "reflex_test/wait.hpp"

namespace rgrpc_test {

using namespace std::chrono_literals;

using reflex_test::eventually;
using reflex_test::recorded;
using reflex_test::SourceLog;

/// Receives `n` events.
inline std::vector<reflex::Event> recv_n(reflex::StreamClient& client, std::size_t n) {
  std::vector<reflex::Event> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(client.recv());
  return out;
}

}  // namespace rgrpc_test
