#pragma once

// A source that produces events as fast as they are asked for: no lock, no allocation beyond the
// event's own strings. For tests of flow control and for throughput benchmarks (bench/ may include
// this header).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "reflex/errors.hpp"
#include "reflex/event.hpp"
#include "reflex/stream.hpp"

namespace reflex_test {

/// Counters shared by every stream of one HotSource.
struct HotSourceCounters {
  std::atomic<std::uint64_t> produced{0};
  std::atomic<int> open{0};
  std::atomic<int> closed{0};
};

/// Streams events with ids after+1 .. `count` (type 1, foreign id = id, `metadata_bytes` of
/// metadata), then HeadReached when to_head, else waits for stop. Honours the stop token.
inline reflex::StreamFunc hot_source(std::uint64_t count, std::size_t metadata_bytes,
                                     std::shared_ptr<HotSourceCounters> counters) {
  class Client final : public reflex::StreamClient {
   public:
    Client(std::stop_token stop, std::uint64_t next, std::uint64_t count, std::size_t bytes,
           bool to_head, std::shared_ptr<HotSourceCounters> counters)
        : stop_(std::move(stop)),
          next_(next),
          count_(count),
          to_head_(to_head),
          counters_(std::move(counters)) {
      event_.type = 1;
      event_.metadata.assign(bytes, 'm');
      event_.timestamp = std::chrono::system_clock::now();
      counters_->open.fetch_add(1);
    }
    ~Client() override { counters_->closed.fetch_add(1); }

    reflex::Event recv() override {
      if (stop_.stop_requested()) throw reflex::Canceled();
      if (next_ > count_) {
        if (to_head_) throw reflex::HeadReached();
        std::mutex mu;
        std::condition_variable_any cv;
        std::unique_lock lock(mu);
        cv.wait(lock, stop_, [] { return false; });
        throw reflex::Canceled();
      }
      event_.id = std::to_string(next_);
      event_.foreign_id = event_.id;
      ++next_;
      counters_->produced.fetch_add(1, std::memory_order_relaxed);
      return event_;
    }

   private:
    std::stop_token stop_;
    std::uint64_t next_;
    std::uint64_t count_;
    bool to_head_;
    std::shared_ptr<HotSourceCounters> counters_;
    reflex::Event event_;
  };

  return [=](std::stop_token stop, std::string_view after,
             const reflex::StreamOptions& options) -> std::unique_ptr<reflex::StreamClient> {
    const std::uint64_t next =
        after.empty() ? 1 : static_cast<std::uint64_t>(reflex::parse_int64(after).value()) + 1;
    return std::make_unique<Client>(std::move(stop), next, count, metadata_bytes, options.to_head,
                                    counters);
  };
}

}  // namespace reflex_test
