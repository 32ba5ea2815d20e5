#include "reflex/rpatterns/batch.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "reflex/errors.hpp"
#include "reflex/rpatterns/ack.hpp"
#include "supervised_stream.hpp"

namespace reflex::rpatterns {

namespace {

using Clock = std::chrono::steady_clock;

/// A batch handed over for processing, with the cursor to ack once it succeeded.
struct Cut {
  std::vector<Event> events;
  std::string ack;
};

/// State shared by the consumer (the run's thread) and the worker of the current run.
class BatchCore {
 public:
  BatchCore(std::string name, BatchConsumeFunc fn, std::shared_ptr<CursorStore> cursors,
            BatchOptions options)
      : name_(std::move(name)),
        fn_(std::move(fn)),
        cursors_(std::move(cursors)),
        options_(std::move(options)) {}

  const std::string& name() const noexcept { return name_; }

  /// Starts a run: clears what an earlier run left and starts the worker.
  void begin(std::stop_token run_stop, std::stop_source wake) {
    {
      std::lock_guard lock(mu_);
      if (active_) {
        throw ConfigError("batch consumer \"" + name_ +
                          "\": its spec is already running; run it with one reflex::run at a time");
      }
      active_ = true;
      open_.clear();
      ready_.reset();
      busy_ = false;
      error_ = nullptr;
      failed_.store(false);
      last_seen_.clear();
      acked_.clear();
      wake_ = std::move(wake);
    }
    worker_ = std::jthread([this, run_stop](std::stop_token own) { work(own, run_stop); });
  }

  /// Ends a run: lets a batch in progress finish, joins the worker, drops unacked events.
  void end() noexcept {
    worker_.request_stop();
    if (worker_.joinable()) worker_.join();
    std::lock_guard lock(mu_);
    active_ = false;
    open_.clear();
    ready_.reset();
  }

  void consume(std::stop_token stop, const Event& event) {
    const bool wanted = !options_.filter || options_.filter(event);
    std::unique_lock lock(mu_);
    if (!active_) {
      throw Error("batch consumer \"" + name_ +
                  "\" was called outside a run of its spec; run the spec from batch_spec");
    }
    // A failed batch ends the run at the next recv; what arrives meanwhile is dropped, unacked.
    if (error_) return;
    last_seen_ = event.id;
    if (!wanted) return;
    open_.push_back(event);
    if (open_.size() == 1) {
      open_since_ = Clock::now();
      cv_.notify_all();  // starts the window timer
    }
    if (options_.max_size != 0 && open_.size() >= options_.max_size) {
      // Backpressure: at most one batch waits while the worker processes another.
      cv_.wait(lock, stop, [&] { return !ready_ || error_; });
      if (error_ || stop.stop_requested()) return;
      cut_locked();
    }
  }

  std::exception_ptr failure() {
    if (!failed_.load(std::memory_order_acquire)) return nullptr;
    std::lock_guard lock(mu_);
    return error_;
  }

  void drain(std::stop_token stop) {
    std::unique_lock lock(mu_);
    if (!open_.empty()) {
      cv_.wait(lock, stop, [&] { return !ready_ || error_; });
      if (error_ || stop.stop_requested()) return;
      cut_locked();
    }
    cv_.wait(lock, stop, [&] { return (!ready_ && !busy_) || error_; });
    if (error_ || stop.stop_requested()) return;
    // Everything up to last_seen_ is acked or was filtered out: the cursor may move to it.
    if (!last_seen_.empty() && last_seen_ != acked_) {
      cursors_->set(name_, last_seen_);
      cursors_->flush();
      acked_ = last_seen_;
    }
  }

 private:
  void cut_locked() {
    ready_.emplace(Cut{std::move(open_), last_seen_});
    open_ = {};
    cv_.notify_all();
  }

  void work(std::stop_token own, std::stop_token run_stop) {
    for (;;) {
      Cut cut;
      {
        std::unique_lock lock(mu_);
        if (!next_locked(lock, own)) return;
        cut = std::move(*ready_);
        ready_.reset();
        busy_ = true;
      }
      cv_.notify_all();  // a slot for the next batch is free
      try {
        fn_(run_stop, std::span<const Event>(cut.events));
      } catch (...) {
        const Event& first = cut.events.front();
        fail(std::make_exception_ptr(
            ConsumeError(name_, first.id, first.foreign_id, std::current_exception())));
        return;
      }
      try {
        cursors_->set(name_, cut.ack);
        cursors_->flush();
      } catch (...) {
        fail(std::current_exception());  // the cursor store's failure, not the consumer's
        return;
      }
      {
        std::lock_guard lock(mu_);
        busy_ = false;
        acked_ = cut.ack;
      }
      cv_.notify_all();
    }
  }

  /// Waits until a batch is ready (cutting the open one when its window passed). False: stop.
  bool next_locked(std::unique_lock<std::mutex>& lock, std::stop_token own) {
    const auto window = options_.window;
    for (;;) {
      if (own.stop_requested() || error_) return false;
      if (ready_) return true;
      if (window.count() > 0 && !open_.empty()) {
        const auto due = open_since_ + window;
        if (Clock::now() >= due) {
          cut_locked();
          return true;
        }
        cv_.wait_until(lock, own, due, [&] { return ready_.has_value() || error_ != nullptr; });
      } else {
        cv_.wait(lock, own,
                 [&] { return ready_ || error_ || (window.count() > 0 && !open_.empty()); });
      }
    }
  }

  void fail(std::exception_ptr error) {
    {
      std::lock_guard lock(mu_);
      busy_ = false;
      if (!error_) error_ = std::move(error);
      failed_.store(true, std::memory_order_release);
    }
    cv_.notify_all();
    wake_.request_stop();  // ends a recv that waits for events
  }

  const std::string name_;
  const BatchConsumeFunc fn_;
  const std::shared_ptr<CursorStore> cursors_;
  const BatchOptions options_;

  std::mutex mu_;
  std::condition_variable_any cv_;
  bool active_ = false;
  std::vector<Event> open_;
  Clock::time_point open_since_{};
  std::string last_seen_;  // newest event consumed, batched or filtered out
  std::string acked_;      // cursor of the newest acked batch
  std::optional<Cut> ready_;
  bool busy_ = false;  // the worker is in fn_ or acking
  std::exception_ptr error_;
  std::atomic<bool> failed_{false};
  std::stop_source wake_;
  std::jthread worker_;
};

}  // namespace

Spec batch_spec(StreamFunc stream, std::shared_ptr<CursorStore> cursors, std::string name,
                BatchConsumeFunc fn, BatchOptions options) {
  if (name.empty()) throw ConfigError("rpatterns::batch_spec: the consumer name must not be empty");
  if (!stream) throw ConfigError("rpatterns::batch_spec: the stream function is empty");
  if (!cursors) throw ConfigError("rpatterns::batch_spec: the cursor store is null");
  if (!fn) throw ConfigError("rpatterns::batch_spec: consumer \"" + name + "\" has no function");
  if (options.max_size == 0 && options.window.count() <= 0) {
    throw ConfigError("rpatterns::batch_spec: consumer \"" + name +
                      "\" needs BatchOptions.max_size or BatchOptions.window (or both) to be set");
  }
  const StreamOptions stream_options = options.stream;
  auto core = std::make_shared<BatchCore>(name, std::move(fn), cursors, std::move(options));
  return detail::core_spec(std::move(stream), std::move(cursors), std::move(core), stream_options);
}

}  // namespace reflex::rpatterns
