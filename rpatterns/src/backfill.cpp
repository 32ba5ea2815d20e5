#include "reflex/rpatterns/backfill.hpp"

#include "reflex/errors.hpp"

namespace reflex::rpatterns {

namespace {

using Clock = std::chrono::steady_clock;

/// What the stream and consumer wrappers of one backfill share. Only the run's thread touches it.
struct Tracker {
  BackfillOptions options;
  Clock::time_point start = Clock::now();
  Clock::time_point next_report = start;
  std::uint64_t events = 0;
  std::string cursor;
  const StreamClient* client = nullptr;  // the open stream, for remaining()

  BackfillProgress progress() const {
    BackfillProgress p;
    p.events = events;
    p.elapsed = Clock::now() - start;
    const double seconds = std::chrono::duration<double>(p.elapsed).count();
    if (seconds > 0) p.events_per_second = static_cast<double>(events) / seconds;
    if (client != nullptr) p.remaining = client->remaining();
    if (p.remaining && p.events_per_second > 0) {
      p.eta = std::chrono::seconds(
          static_cast<std::int64_t>(static_cast<double>(*p.remaining) / p.events_per_second));
    }
    p.cursor = cursor;
    return p;
  }

  void consumed(const Event& event) {
    ++events;
    cursor = event.id;
    if (!options.on_progress) return;
    const auto now = Clock::now();
    if (now < next_report) return;
    next_report = now + options.progress_interval;
    options.on_progress(progress());
  }
};

class TrackingClient final : public StreamClient {
 public:
  TrackingClient(std::unique_ptr<StreamClient> inner, Tracker& tracker)
      : inner_(std::move(inner)), tracker_(tracker) {
    tracker_.client = inner_.get();
  }
  ~TrackingClient() override { tracker_.client = nullptr; }
  TrackingClient(const TrackingClient&) = delete;
  TrackingClient& operator=(const TrackingClient&) = delete;

  Event recv() override { return inner_->recv(); }
  std::optional<std::uint64_t> remaining() const override { return inner_->remaining(); }

 private:
  std::unique_ptr<StreamClient> inner_;
  Tracker& tracker_;
};

class TrackingConsumer final : public Consumer {
 public:
  TrackingConsumer(std::shared_ptr<Consumer> inner, Tracker& tracker)
      : inner_(std::move(inner)), tracker_(tracker) {}

  const std::string& name() const noexcept override { return inner_->name(); }
  void consume(std::stop_token stop, const Event& event) override {
    inner_->consume(stop, event);
    tracker_.consumed(event);
  }
  void reset() override { inner_->reset(); }
  void stop() override { inner_->stop(); }

 private:
  std::shared_ptr<Consumer> inner_;
  Tracker& tracker_;
};

}  // namespace

BackfillSummary backfill(std::stop_token stop, Spec spec, BackfillOptions options) {
  if (!spec.stream) throw ConfigError("rpatterns::backfill: Spec.stream is empty");
  if (!spec.cursors) throw ConfigError("rpatterns::backfill: Spec.cursors is null");
  if (!spec.consumer) throw ConfigError("rpatterns::backfill: Spec.consumer is null");

  Tracker tracker;
  tracker.options = std::move(options);
  // The first report comes after one interval, not on the first event.
  tracker.next_report = tracker.start + tracker.options.progress_interval;
  tracker.cursor = spec.cursors->get(spec.consumer->name());

  Spec tracked = spec;
  tracked.options.to_head = true;
  tracked.stream = [inner = spec.stream, &tracker](
                       std::stop_token s, std::string_view after,
                       const StreamOptions& o) -> std::unique_ptr<StreamClient> {
    auto client = inner(std::move(s), after, o);
    if (!client) return client;  // run reports the null client
    return std::make_unique<TrackingClient>(std::move(client), tracker);
  };
  tracked.consumer = std::make_shared<TrackingConsumer>(spec.consumer, tracker);

  BackfillSummary summary;
  try {
    run(stop, tracked);
  } catch (const HeadReached&) {
    summary.reached_head = true;
  }
  summary.events = tracker.events;
  summary.duration = Clock::now() - tracker.start;
  // The store, not the last event: ack and batch specs move the cursor themselves.
  summary.cursor = spec.cursors->get(spec.consumer->name());
  if (tracker.options.on_progress) {
    BackfillProgress last = tracker.progress();
    if (summary.reached_head) {
      last.remaining = 0;
      last.eta = std::chrono::seconds(0);
    }
    tracker.options.on_progress(last);
  }
  return summary;
}

}  // namespace reflex::rpatterns
