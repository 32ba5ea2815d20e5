#include "reflex/rpatterns/concurrent.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "reflex/errors.hpp"
#include "reflex/rpatterns/ack.hpp"
#include "reflex/rpatterns/gap_sequence.hpp"
#include "supervised_stream.hpp"

namespace reflex::rpatterns {

namespace {

/// State shared by the consumer (the run's thread) and the workers of the current run.
class ConcurrentCore {
 public:
  ConcurrentCore(std::shared_ptr<Consumer> inner, std::shared_ptr<CursorStore> cursors,
                 std::size_t max_in_flight)
      : inner_(std::move(inner)), cursors_(std::move(cursors)), max_in_flight_(max_in_flight) {}

  const std::string& name() const noexcept { return inner_->name(); }
  void reset() { inner_->reset(); }
  void stop() { inner_->stop(); }

  void begin(std::stop_token run_stop, std::stop_source wake) {
    {
      std::lock_guard lock(mu_);
      if (active_) {
        throw ConfigError("concurrent consumer \"" + name() +
                          "\": its spec is already running; run it with one reflex::run at a time");
      }
      active_ = true;
      queue_.clear();
      sequence_ = GapSequence();
      in_flight_ = 0;
      running_ = 0;
      error_ = nullptr;
      failed_.store(false);
      wake_ = std::move(wake);
    }
    workers_.reserve(max_in_flight_);
    try {
      for (std::size_t i = 0; i < max_in_flight_; ++i) {
        workers_.emplace_back([this, run_stop](std::stop_token own) { work(own, run_stop); });
      }
    } catch (...) {
      end();
      throw;
    }
  }

  /// Ends a run: events in flight finish (their completion still moves the cursor), queued ones
  /// are dropped unacked, workers are joined.
  void end() noexcept {
    for (auto& worker : workers_) worker.request_stop();
    for (auto& worker : workers_) {
      if (worker.joinable()) worker.join();
    }
    workers_.clear();
    std::lock_guard lock(mu_);
    active_ = false;
    queue_.clear();
  }

  void consume(std::stop_token stop, const Event& event) {
    std::unique_lock lock(mu_);
    if (!active_) {
      throw Error("concurrent consumer \"" + name() +
                  "\" was called outside a run of its spec; run the spec from concurrent()");
    }
    slot_cv_.wait(lock, stop, [&] { return in_flight_ < max_in_flight_ || error_; });
    // A failure ends the run at the next recv; the event is not started and stays unacked.
    if (error_ || stop.stop_requested()) return;
    const auto ticket = sequence_.start(event.id);
    queue_.push_back(Item{ticket, event});
    ++in_flight_;
    work_cv_.notify_one();
  }

  std::exception_ptr failure() {
    if (!failed_.load(std::memory_order_acquire)) return nullptr;
    std::unique_lock lock(mu_);
    // Let the events in flight settle first: the failure is reported once, with their cursor.
    slot_cv_.wait(lock, [&] { return running_ == 0; });
    return error_;
  }

  void drain(std::stop_token stop) {
    std::unique_lock lock(mu_);
    slot_cv_.wait(lock, stop, [&] { return in_flight_ == 0 || error_; });
  }

 private:
  struct Item {
    GapSequence::Ticket ticket = 0;
    Event event;
  };

  void work(std::stop_token own, std::stop_token run_stop) {
    for (;;) {
      Item item;
      {
        std::unique_lock lock(mu_);
        work_cv_.wait(lock, own, [&] { return !queue_.empty() || error_; });
        if (own.stop_requested() || error_) return;
        item = std::move(queue_.front());
        queue_.pop_front();
        ++running_;
      }
      std::exception_ptr failure;
      try {
        inner_->consume(run_stop, item.event);
      } catch (...) {
        failure = std::current_exception();
      }
      finished(item, std::move(failure));
    }
  }

  void finished(const Item& item, std::exception_ptr failure) {
    bool failed_now = false;
    {
      std::lock_guard lock(mu_);
      --running_;
      --in_flight_;
      if (failure) {
        if (!error_) {
          error_ = std::make_exception_ptr(
              ConsumeError(name(), item.event.id, item.event.foreign_id, failure));
          failed_now = true;
        }
      } else if (auto cursor = sequence_.finish(item.ticket)) {
        // Under the lock, so cursors are set in stream order.
        try {
          cursors_->set(name(), *cursor);
        } catch (...) {
          if (!error_) {
            error_ = std::current_exception();
            failed_now = true;
          }
        }
      }
      if (failed_now) failed_.store(true, std::memory_order_release);
    }
    slot_cv_.notify_all();
    if (failed_now) {
      work_cv_.notify_all();
      wake_.request_stop();  // ends a recv that waits for events
    }
  }

  const std::shared_ptr<Consumer> inner_;
  const std::shared_ptr<CursorStore> cursors_;
  const std::size_t max_in_flight_;

  std::mutex mu_;
  std::condition_variable_any work_cv_;  // workers wait for events
  std::condition_variable_any slot_cv_;  // the run waits for a free slot or for settling
  bool active_ = false;
  std::deque<Item> queue_;
  GapSequence sequence_;
  std::size_t in_flight_ = 0;  // queued + running
  std::size_t running_ = 0;
  std::exception_ptr error_;
  std::atomic<bool> failed_{false};
  std::stop_source wake_;
  std::vector<std::jthread> workers_;
};

}  // namespace

Spec concurrent(Spec spec, ConcurrentOptions options) {
  if (!spec.stream) throw ConfigError("rpatterns::concurrent: Spec.stream is empty");
  if (!spec.cursors) throw ConfigError("rpatterns::concurrent: Spec.cursors is null");
  if (!spec.consumer) throw ConfigError("rpatterns::concurrent: Spec.consumer is null");
  if (options.max_in_flight == 0) {
    throw ConfigError("rpatterns::concurrent: consumer \"" + spec.consumer->name() +
                      "\": ConcurrentOptions.max_in_flight must be at least 1");
  }
  auto core = std::make_shared<ConcurrentCore>(std::move(spec.consumer), spec.cursors,
                                               options.max_in_flight);
  return detail::core_spec(std::move(spec.stream), std::move(spec.cursors), std::move(core),
                           spec.options);
}

}  // namespace reflex::rpatterns
