#include "reflex/rpatterns/poller.hpp"

#include <algorithm>
#include <deque>

#include "reflex/errors.hpp"
#include "reflex/wait.hpp"

namespace reflex::rpatterns {

namespace {

class PollClient final : public StreamClient {
 public:
  PollClient(std::shared_ptr<const FetchFunc> fetch, PollerOptions options, std::stop_token stop,
             std::string cursor, StreamOptions stream_options)
      : fetch_(std::move(fetch)),
        options_(std::move(options)),
        stop_(std::move(stop)),
        cursor_(std::move(cursor)),
        stream_options_(stream_options),
        backoff_(options_.idle_backoff) {}

  Event recv() override {
    while (buffer_.empty()) {
      if (stop_.stop_requested()) throw Canceled();
      if (fetch_page()) break;
      if (stream_options_.to_head) throw HeadReached();
      if (!sleep_for(stop_, backoff_)) throw Canceled();
      backoff_ = std::min(backoff_ * 2, std::max(options_.max_idle_backoff, options_.idle_backoff));
    }
    Event event = std::move(buffer_.front());
    buffer_.pop_front();
    cursor_ = event.id;
    const auto lag = stream_options_.lag;
    if (lag.count() > 0 && !sleep_until(stop_, event.timestamp + lag)) throw Canceled();
    return event;
  }

  /// Loads the next page into the buffer; false when it was empty.
  bool fetch_page() {
    std::vector<Event> page = (*fetch_)(stop_, cursor_);
    if (page.empty()) return false;
    if (!cursor_.empty() && page.front().id == cursor_) {
      throw CursorError("poller: the fetch function returned the cursor's own event (id " +
                        cursor_ + ") after it; `after` is exclusive, return only newer events");
    }
    for (const auto& e : page) {
      if (e.id.empty()) {
        throw CursorError("poller: the fetch function returned an event without an id after \"" +
                          cursor_ + "\"; ids are the cursors and must be set");
      }
    }
    buffer_.assign(std::make_move_iterator(page.begin()), std::make_move_iterator(page.end()));
    backoff_ = options_.idle_backoff;
    return true;
  }

  /// Moves the cursor to the current end of the source without delivering anything.
  void skip_to_end() {
    while (fetch_page()) {
      if (stop_.stop_requested()) throw Canceled();
      cursor_ = buffer_.back().id;
      buffer_.clear();
    }
  }

 private:
  std::shared_ptr<const FetchFunc> fetch_;
  PollerOptions options_;
  std::stop_token stop_;
  std::string cursor_;
  StreamOptions stream_options_;
  std::chrono::milliseconds backoff_;
  std::deque<Event> buffer_;
};

}  // namespace

StreamFunc poller(FetchFunc fetch, PollerOptions options) {
  if (!fetch) throw ConfigError("rpatterns::poller: the fetch function is empty");
  if (options.idle_backoff.count() <= 0) {
    throw ConfigError(
        "rpatterns::poller: PollerOptions.idle_backoff must be positive (an idle "
        "source would otherwise be polled in a tight loop)");
  }
  auto shared_fetch = std::make_shared<const FetchFunc>(std::move(fetch));
  return [shared_fetch, options = std::move(options)](
             std::stop_token stop, std::string_view after,
             const StreamOptions& stream_options) -> std::unique_ptr<StreamClient> {
    check_stream_options(stream_options);
    std::string cursor(after);
    if (stream_options.from_head && options.head) cursor = options.head(stop);
    auto client = std::make_unique<PollClient>(shared_fetch, options, stop, std::move(cursor),
                                               stream_options);
    if (stream_options.from_head && !options.head) client->skip_to_end();
    return client;
  };
}

}  // namespace reflex::rpatterns
