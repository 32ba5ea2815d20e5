#include "reflex/mem_log.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "reflex/encoding.hpp"
#include "reflex/errors.hpp"

namespace reflex {

struct detail::MemLogState {
  mutable std::mutex mu;
  std::condition_variable_any changed;
  std::vector<Event> events;
  // Bumped by stop_streams(); a stream opened under an older generation ends with Stopped.
  std::uint64_t generation = 0;
};

namespace {

using Clock = std::chrono::system_clock;

class MemLogClient final : public StreamClient {
 public:
  MemLogClient(std::shared_ptr<detail::MemLogState> state, std::stop_token stop, std::size_t next,
               StreamOptions options, std::uint64_t generation)
      : state_(std::move(state)),
        stop_(std::move(stop)),
        next_(next),
        options_(options),
        generation_(generation) {}

  Event recv() override {
    std::unique_lock lock(state_->mu);
    for (;;) {
      if (stop_.stop_requested()) throw Canceled();
      if (state_->generation != generation_) throw Stopped("the in-memory log stopped its streams");
      if (next_ < state_->events.size()) {
        const Event& event = state_->events[next_];
        const auto due = event.timestamp + options_.lag;
        const auto now = Clock::now();
        if (options_.lag <= std::chrono::milliseconds::zero() || due <= now) {
          return state_->events[next_++];
        }
        if (options_.to_head) throw HeadReached();
        // Too young: wait for it to age, waking early for stop or stop_streams.
        state_->changed.wait_for(lock, stop_, due - now, [&] { return stopped_by_log(); });
        continue;
      }
      if (options_.to_head) throw HeadReached();
      state_->changed.wait(lock, stop_,
                           [&] { return next_ < state_->events.size() || stopped_by_log(); });
    }
  }

  std::optional<std::uint64_t> remaining() const override {
    std::lock_guard lock(state_->mu);
    return state_->events.size() - std::min(next_, state_->events.size());
  }

 private:
  bool stopped_by_log() const { return state_->generation != generation_; }

  std::shared_ptr<detail::MemLogState> state_;
  std::stop_token stop_;
  std::size_t next_;
  StreamOptions options_;
  std::uint64_t generation_;
};

}  // namespace

MemLog::MemLog() : state_(std::make_shared<detail::MemLogState>()) {}

Event MemLog::append(int type, std::string foreign_id, std::string metadata, std::string trace) {
  return append(Event{.id = {},
                      .type = type,
                      .foreign_id = std::move(foreign_id),
                      .timestamp = Clock::now(),
                      .metadata = std::move(metadata),
                      .trace = std::move(trace)});
}

Event MemLog::append(Event event) {
  if (event.timestamp == Clock::time_point{}) event.timestamp = Clock::now();
  {
    std::lock_guard lock(state_->mu);
    event.id = std::to_string(state_->events.size() + 1);
    state_->events.push_back(event);
  }
  state_->changed.notify_all();
  return event;
}

std::size_t MemLog::size() const {
  std::lock_guard lock(state_->mu);
  return state_->events.size();
}

std::vector<Event> MemLog::events(std::size_t first_id, std::size_t count) const {
  std::lock_guard lock(state_->mu);
  const auto& all = state_->events;
  const std::size_t begin = std::min(first_id == 0 ? 0 : first_id - 1, all.size());
  const std::size_t end = begin + std::min(count, all.size() - begin);
  return {all.begin() + static_cast<std::ptrdiff_t>(begin),
          all.begin() + static_cast<std::ptrdiff_t>(end)};
}

void MemLog::stop_streams() {
  {
    std::lock_guard lock(state_->mu);
    ++state_->generation;
  }
  state_->changed.notify_all();
}

StreamFunc MemLog::stream_func() const {
  return [state = state_](std::stop_token stop, std::string_view after,
                          const StreamOptions& options) -> std::unique_ptr<StreamClient> {
    check_stream_options(options);
    std::size_t next = 0;
    if (!after.empty()) {
      const auto id = parse_int64(after);
      if (!id || *id < 0) {
        throw CursorError("MemLog: cursor " + quoted(after) +
                          " is not an event id (expected a non-negative integer, or \"\" for "
                          "the beginning)");
      }
      next = static_cast<std::size_t>(*id);
    }
    std::uint64_t generation = 0;
    {
      std::lock_guard lock(state->mu);
      if (options.from_head) next = state->events.size();
      generation = state->generation;
    }
    return std::make_unique<MemLogClient>(state, std::move(stop), next, options, generation);
  };
}

}  // namespace reflex
