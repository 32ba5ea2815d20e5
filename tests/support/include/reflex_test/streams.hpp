#pragma once
// Reading a source to its head, comparing event sequences, and watching what a source is asked
// for: the checks every source's tests make, whichever source it is (core only).

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/errors.hpp"
#include "reflex/event.hpp"
#include "reflex/stream.hpp"

namespace reflex_test {

/// Every event of `stream` after `after` up to its head: a to_head stream (whatever `options`
/// says about to_head) read until HeadReached. Time bounds: those of the source's own reads; it
/// never waits for new events.
inline std::vector<reflex::Event> read_to_head(const reflex::StreamFunc& stream,
                                               std::string_view after = "",
                                               reflex::StreamOptions options = {}) {
  options.to_head = true;
  std::stop_source stop;
  auto client = stream(stop.get_token(), after, options);
  std::vector<reflex::Event> events;
  try {
    for (;;) events.push_back(client->recv());
  } catch (const reflex::HeadReached&) {
  }
  return events;
}

/// The ids of `events`, in order, for comparing sequences.
inline std::vector<std::string> ids(const std::vector<reflex::Event>& events) {
  std::vector<std::string> out;
  out.reserve(events.size());
  for (const auto& e : events) out.push_back(e.id);
  return out;
}

/// "first" .. "last" (the ids a MemLog gives its events).
inline std::vector<std::string> range_ids(int first, int last) {
  std::vector<std::string> out;
  for (int i = first; i <= last; ++i) out.push_back(std::to_string(i));
  return out;
}

/// What a source wrapped by recorded() was asked for and handed out, so a test can wait for a
/// stream to be open or an event to have been read instead of sleeping. Thread-safe.
struct SourceLog {
  std::mutex mu;
  std::vector<std::string> afters;             ///< the cursor of every open call (under mu)
  std::vector<reflex::StreamOptions> options;  ///< the options of every open call (under mu)
  std::atomic<int> opened{0};                  ///< streams opened so far (counted once open)
  std::atomic<int> open{0};                    ///< streams open now (opened and not yet destroyed)
  std::atomic<int> received{0};                ///< events recv() returned, over every stream
  std::atomic<int> stop_seen{0};  ///< streams whose stop token was triggered while they were open
};

/// Wraps `inner`, recording every call's cursor and options in `log`, and counting streams as
/// they open and close and events as they are read. Adds no waiting of its own.
inline reflex::StreamFunc recorded(reflex::StreamFunc inner, std::shared_ptr<SourceLog> log) {
  class Client final : public reflex::StreamClient {
   public:
    Client(std::unique_ptr<reflex::StreamClient> inner, std::shared_ptr<SourceLog> log,
           std::stop_token stop)
        : inner_(std::move(inner)), log_(std::move(log)), seen_(stop, Seen{log_.get()}) {
      log_->open.fetch_add(1);
      log_->opened.fetch_add(1);
    }
    ~Client() override { log_->open.fetch_sub(1); }
    reflex::Event recv() override {
      auto event = inner_->recv();
      log_->received.fetch_add(1);
      return event;
    }
    std::optional<std::uint64_t> remaining() const override { return inner_->remaining(); }

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

}  // namespace reflex_test
