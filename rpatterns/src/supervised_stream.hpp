#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <stop_token>

#include "reflex/consumer.hpp"
#include "reflex/cursor_store.hpp"
#include "reflex/rpatterns/ack.hpp"
#include "reflex/run.hpp"
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

/// A pattern whose consumer hands each event to a core shared with its background work (batch,
/// concurrent). Core has begin(run_stop, wake) / end() around one run, failure(), drain(stop),
/// name(), consume(stop, event), and optionally reset() and stop().
template <class Core>
class CoreRun final : public RunWork {
 public:
  CoreRun(std::shared_ptr<Core> core, std::stop_token run_stop, std::stop_source wake)
      : core_(std::move(core)) {
    core_->begin(std::move(run_stop), std::move(wake));
  }
  ~CoreRun() override { core_->end(); }
  CoreRun(const CoreRun&) = delete;
  CoreRun& operator=(const CoreRun&) = delete;

  std::exception_ptr failure() override { return core_->failure(); }
  void drain(std::stop_token stop) override { core_->drain(std::move(stop)); }

 private:
  std::shared_ptr<Core> core_;
};

template <class Core>
class CoreConsumer final : public Consumer {
 public:
  explicit CoreConsumer(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  const std::string& name() const noexcept override { return core_->name(); }
  void consume(std::stop_token stop, const Event& event) override {
    core_->consume(std::move(stop), event);
  }
  void reset() override {
    if constexpr (requires(Core & c) { c.reset(); }) core_->reset();
  }
  void stop() override {
    if constexpr (requires(Core & c) { c.stop(); }) core_->stop();
  }

 private:
  std::shared_ptr<Core> core_;
};

/// The Spec of such a pattern: its stream supervised by the core's background work, its consumer
/// forwarding to the core, and a view of `cursors` that ignores run's sets (the core sets the
/// cursor once an event is really done).
template <class Core>
[[nodiscard]] Spec core_spec(StreamFunc stream, std::shared_ptr<CursorStore> cursors,
                             std::shared_ptr<Core> core, StreamOptions options) {
  auto start = [core](std::stop_token run_stop, std::stop_source wake) -> std::unique_ptr<RunWork> {
    return std::make_unique<CoreRun<Core>>(core, std::move(run_stop), std::move(wake));
  };
  return Spec{.stream = supervised(std::move(stream), std::move(start)),
              .cursors = no_set_view(std::move(cursors)),
              .consumer = std::make_shared<CoreConsumer<Core>>(std::move(core)),
              .options = options};
}

}  // namespace reflex::rpatterns::detail
