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
#include "reflex_test/wait.hpp"

namespace rgrpc_test {

using namespace std::chrono_literals;

using reflex_test::eventually;

/// Receives `n` events.
inline std::vector<reflex::Event> recv_n(reflex::StreamClient& client, std::size_t n) {
  std::vector<reflex::Event> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(client.recv());
  return out;
}

/// What a source was asked for, and whether its stream is open.
struct SourceLog {
  std::mutex mu;
  std::vector<std::string> afters;
  std::vector<reflex::StreamOptions> options;
  std::atomic<int> open{0};
  std::atomic<int> stop_seen{0};
};

/// Wraps `inner`, recording every call's cursor and options and when its streams close.
inline reflex::StreamFunc recorded(reflex::StreamFunc inner, std::shared_ptr<SourceLog> log) {
  class Client final : public reflex::StreamClient {
   public:
    Client(std::unique_ptr<reflex::StreamClient> inner, std::shared_ptr<SourceLog> log,
           std::stop_token stop)
        : inner_(std::move(inner)), log_(std::move(log)), seen_(stop, Seen{log_.get()}) {
      log_->open.fetch_add(1);
    }
    ~Client() override { log_->open.fetch_sub(1); }
    reflex::Event recv() override { return inner_->recv(); }

   private:
    struct Seen {
      SourceLog* log;
      void operator()() const noexcept { log->stop_seen.fetch_add(1); }
    };
    std::unique_ptr<reflex::StreamClient> inner_;
    std::shared_ptr<SourceLog> log_;
    std::stop_callback<Seen> seen_;
  };
  return [inner = std::move(inner), log = std::move(log)](
             std::stop_token stop, std::string_view after,
             const reflex::StreamOptions& options) -> std::unique_ptr<reflex::StreamClient> {
    {
      std::lock_guard lock(log->mu);
      log->afters.emplace_back(after);
      log->options.push_back(options);
    }
    auto client = inner(stop, after, options);
    return std::make_unique<Client>(std::move(client), log, stop);
  };
}

}  // namespace rgrpc_test
