#include "reflex/rnats/source.hpp"

#include <optional>

#include "access.hpp"
#include "codec.hpp"
#include "connection_state.hpp"
#include "msg_queue.hpp"
#include "reflex/encoding.hpp"
#include "reflex/errors.hpp"
#include "reflex/rnats/errors.hpp"
#include "reflex/wait.hpp"
#include "status.hpp"

namespace reflex::rnats {

namespace {

using Clock = std::chrono::system_clock;
using detail::check;
using detail::MsgPtr;

struct Start {
  std::uint64_t sequence = 0;  // first sequence to deliver; 0 = only new messages
  bool nothing_pending = false;
  std::uint64_t last = 0;  // with sequence 0: the stream's last sequence, which is not new
};

std::uint64_t parse_cursor(std::string_view after, const std::string& stream) {
  if (after.empty()) return 0;
  const auto value = parse_int64(after);
  if (!value || *value < 0) {
    throw CursorError("JetStream stream \"" + stream + "\": cursor " + quoted(after) +
                      " is not a stream sequence (expected a non-negative integer, or \"\" for "
                      "the beginning)");
  }
  return static_cast<std::uint64_t>(*value);
}

// Decides where to start, checking the cursor against what the stream holds: JetStream would
// silently clamp a start sequence outside the retained range.
Start plan_start(detail::ConnectionState& conn, const SourceOptions& options, std::uint64_t cursor,
                 bool from_head) {
  jsStreamInfo* raw = nullptr;
  jsErrCode jerr{};
  jsOptions jo = conn.js_options();
  check(js_GetStreamInfo(&raw, conn.js.get(), options.stream.c_str(), &jo, &jerr),
        "JetStream source: get info of stream \"" + options.stream + "\"", jerr);
  const detail::StreamInfoPtr info(raw);
  const std::uint64_t first = info->State.FirstSeq;
  const std::uint64_t last = info->State.LastSeq;
  if (from_head) return {.sequence = 0, .nothing_pending = true, .last = last};

  const bool skip = options.on_stale_cursor == StaleCursor::skip_ahead;
  const std::string where =
      "JetStream stream \"" + options.stream + "\": cursor " + std::to_string(cursor);
  if (cursor > last) {
    if (!skip) {
      throw CursorError(where + " is beyond the stream's last sequence " + std::to_string(last) +
                        ": the stream was probably deleted and recreated, so the cursor means "
                        "nothing here. Reset the consumer's cursor (or use "
                        "StaleCursor::skip_ahead to continue with new messages)");
    }
    return {.sequence = 0, .nothing_pending = true, .last = last};
  }
  if (cursor > 0 && cursor + 1 < first) {
    if (!skip) {
      throw CursorError(where + " has expired: sequences " + std::to_string(cursor + 1) + ".." +
                        std::to_string(first - 1) +
                        " are no longer retained (limits, max age or purge), so events would be "
                        "lost. Reset the cursor deliberately (or use StaleCursor::skip_ahead to "
                        "continue at the first retained sequence " +
                        std::to_string(first) + ")");
    }
    return {.sequence = first, .nothing_pending = last < first};
  }
  return {.sequence = std::max<std::uint64_t>(cursor + 1, 1), .nothing_pending = last <= cursor};
}

class JetStreamClient final : public StreamClient {
 public:
  JetStreamClient(std::shared_ptr<detail::ConnectionState> conn, const SourceOptions& options,
                  std::stop_token stop, const StreamOptions& stream_options, const Start& start)
      : conn_(std::move(conn)),
        queue_(std::make_shared<detail::MsgQueue>(options.buffer)),
        stop_(std::move(stop)),
        options_(stream_options),
        stream_(options.stream) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = options.stream.c_str();
    so.Ordered = true;
    so.Config.Heartbeat =
        std::chrono::duration_cast<std::chrono::nanoseconds>(options.heartbeat).count();
    if (start.sequence == 0) {
      so.Config.DeliverPolicy = js_DeliverNew;
    } else {
      so.Config.DeliverPolicy = js_DeliverByStartSequence;
      so.Config.OptStartSeq = start.sequence;
    }
    const std::string subject = options.filter_subject.empty() ? ">" : options.filter_subject;
    jsOptions jo = conn_->js_options();
    jsErrCode jerr{};
    natsSubscription* sub = nullptr;
    auto* closure = new std::shared_ptr<detail::MsgQueue>(queue_);
    const natsStatus s = js_Subscribe(&sub, conn_->js.get(), subject.c_str(),
                                      &detail::MsgQueue::on_msg, closure, &jo, &so, &jerr);
    if (s != NATS_OK) {
      delete closure;
      detail::throw_status(s, "JetStream source: subscribe to stream \"" + stream_ + "\"", jerr);
    }
    sub_.reset(sub);
    natsSubscription_SetOnCompleteCB(sub, &detail::MsgQueue::on_complete, closure);
    // No client-side drop limit. The server lets an ordered consumer run up to its flow-control
    // window (up to 32 MiB) ahead of us, past nats.c's default of 65,536 messages; nats.c counts
    // an ordered consumer's sequence before it enqueues, so a slow-consumer drop would not be
    // seen as a gap and a message would be skipped silently. The window bounds the memory.
    detail::check(natsSubscription_SetPendingLimits(sub, -1, -1),
                  "JetStream source: lift the pending limits of stream \"" + stream_ + "\"");
    delivered_ = start.sequence > 0 ? start.sequence - 1 : start.last;
    caught_up_ = start.nothing_pending;
    if (!caught_up_ && options_.to_head) {
      // The exact count for the filter, from the consumer itself (it skips deleted messages).
      jsConsumerInfo* ci = nullptr;
      if (natsSubscription_GetConsumerInfo(&ci, sub, &jo, &jerr) == NATS_OK) {
        const detail::ConsumerInfoPtr info(ci);
        // Delivered ones are on their way to the queue: none was received yet.
        remaining_ = info->NumPending + info->Delivered.Consumer;
        caught_up_ = *remaining_ == 0;
      }
    }
  }

  ~JetStreamClient() override {
    queue_->close();
    // Deletes the ordered consumer on the server; the queue is released by on_complete.
    if (sub_) natsSubscription_Unsubscribe(sub_.get());
  }

  JetStreamClient(const JetStreamClient&) = delete;
  JetStreamClient& operator=(const JetStreamClient&) = delete;

  Event recv() override {
    for (;;) {
      if (stop_.stop_requested()) throw Canceled();
      if (!held_) {
        std::optional<MsgPtr> msg = queue_->try_pop();
        if (!msg) {
          if (options_.to_head && caught_up_) throw HeadReached();
          msg = queue_->pop(stop_);
          if (!msg) {
            check_finished();
            continue;
          }
        }
        held_ = decode(std::move(*msg));
        if (!held_) continue;  // delivered before: see decode
      }
      if (options_.lag > std::chrono::milliseconds::zero()) {
        const auto due = held_->timestamp + options_.lag;
        if (Clock::now() < due) {
          if (options_.to_head) throw HeadReached();
          if (!sleep_until(stop_, due)) throw Canceled();
        }
      }
      Event event = std::move(*held_);
      held_.reset();
      return event;
    }
  }

  std::optional<std::uint64_t> remaining() const override { return remaining_; }

 private:
  void check_finished() {
    if (stop_.stop_requested()) throw Canceled();
    if (queue_->finished()) {
      throw Unavailable("JetStream source: the subscription to stream \"" + stream_ +
                        "\" was closed (connection closed?)");
    }
  }

  std::optional<Event> decode(MsgPtr msg) {
    jsMsgMetaData* raw = nullptr;
    check(natsMsg_GetMetaData(&raw, msg.get()),
          "JetStream source: read metadata of a message of stream \"" + stream_ + "\"");
    const detail::MetaDataPtr meta(raw);
    remaining_ = meta->NumPending;
    caught_up_ = meta->NumPending == 0;
    // The stream only moves forward. nats.c recreates an ordered consumer after a missed
    // heartbeat (a leader moved, a server restarted) after the last sequence it delivered; once
    // (the leader-kill cluster test on a fresh cluster) that redelivered sequence 1 after 200, most
    // likely a consumer recreated before its first delivery. Whatever the cause, what was handed
    // out already, or lies before the start asked for, is skipped.
    const std::uint64_t seq = meta->Sequence.Stream;
    if (seq <= delivered_) return std::nullopt;
    delivered_ = seq;
    return detail::message_event(msg.get(), seq, detail::from_unix_nanos(meta->Timestamp));
  }

  std::shared_ptr<detail::ConnectionState> conn_;
  std::shared_ptr<detail::MsgQueue> queue_;
  detail::SubscriptionPtr sub_;
  std::stop_token stop_;
  StreamOptions options_;
  std::string stream_;
  std::optional<Event> held_;
  std::optional<std::uint64_t> remaining_;
  bool caught_up_ = false;
  std::uint64_t delivered_ = 0;  // the last stream sequence handed out (or before the start)
};

}  // namespace

StreamFunc stream_func(Connection connection, SourceOptions options) {
  if (options.stream.empty()) {
    throw ConfigError("rnats::stream_func: SourceOptions.stream is empty; name the stream");
  }
  if (options.heartbeat < std::chrono::milliseconds(100)) {
    throw ConfigError("rnats::stream_func: SourceOptions.heartbeat must be at least 100ms");
  }
  return [conn = detail::Access::state(connection), options = std::move(options)](
             std::stop_token stop, std::string_view after,
             const StreamOptions& stream_options) -> std::unique_ptr<StreamClient> {
    check_stream_options(stream_options);
    const std::uint64_t cursor = parse_cursor(after, options.stream);
    const Start start = plan_start(*conn, options, cursor, stream_options.from_head);
    return std::make_unique<JetStreamClient>(conn, options, std::move(stop), stream_options, start);
  };
}

}  // namespace reflex::rnats
