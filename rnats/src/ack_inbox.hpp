#pragma once
// Publishing below nats.c's JetStream layer: plain messages whose reply subject is
// "<inbox>.<number>", and JetStream's answers read from one subscription of ours on "<inbox>.*".
// The relay (relay/session.cpp) and AsyncPublisher (publisher.cpp) both publish this way: every
// callback's lifetime stays under our control (nats.c's async-publish handlers offer no way to
// know when the last one has returned) and each message can carry expectations of its own.

#include <nats/nats.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "handles.hpp"
#include "pub_ack.hpp"

namespace reflex::rnats::detail {

/// JetStream's expectation headers (what jsPubOptions sets for nats.c's own publishes).
inline constexpr const char* expected_last_msg_id_header = "Nats-Expected-Last-Msg-Id";
inline constexpr const char* expected_last_sequence_header = "Nats-Expected-Last-Sequence";
/// "0": the subject must have no message yet (jsPubOptions::ExpectNoMessage).
inline constexpr const char* expected_last_subject_sequence_header =
    "Nats-Expected-Last-Subject-Sequence";

/// The inbox and its subscription. Thread-safety: reply() and number() from any thread; open
/// and close from the owner's. Lifetime: move-only; close() (or destruction) unsubscribes.
class AckInbox final {
 public:
  AckInbox() = default;

  /// Subscribes to "<a new inbox>.*". Every answer is handed to `state->on_reply(MsgPtr)` on the
  /// subscription's own thread (nats.c's delivery thread of this subscription), one at a time;
  /// `state` stays alive until the subscription's last callback has returned. `what` names the
  /// owner in errors.
  template <class State>
  [[nodiscard]] static AckInbox open(natsConnection* nc, std::shared_ptr<State> state,
                                     std::string_view what) {
    auto* closure = new std::shared_ptr<State>(std::move(state));
    return open(
        nc,
        [](natsConnection*, natsSubscription*, natsMsg* msg, void* c) {
          MsgPtr owned(msg);
          (*static_cast<std::shared_ptr<State>*>(c))->on_reply(std::move(owned));
        },
        [](void* c) { delete static_cast<std::shared_ptr<State>*>(c); }, closure, what);
  }

  /// The reply subject of publish `number`.
  [[nodiscard]] std::string reply(std::uint64_t number) const;
  /// The same, written into `out` (whose capacity a caller publishing in a loop keeps).
  void reply(std::uint64_t number, std::string& out) const;
  /// The publish an answer belongs to, or nullopt for a subject of no publish of ours.
  [[nodiscard]] std::optional<std::uint64_t> number(natsMsg* msg) const;
  /// The publish number an answer delivered by this inbox's subscription carries (its subject's
  /// last token), for a reader that does not hold the inbox: the subscription only delivers
  /// "<inbox>.*".
  [[nodiscard]] static std::optional<std::uint64_t> delivered_number(natsMsg* msg);
  /// Stops the answers (the last callback may still be running when it returns).
  void close() noexcept;
  [[nodiscard]] explicit operator bool() const noexcept { return sub_ != nullptr; }

 private:
  using Callback = void (*)(natsConnection*, natsSubscription*, natsMsg*, void*);
  [[nodiscard]] static AckInbox open(natsConnection* nc, Callback on_reply,
                                     void (*on_complete)(void*), void* closure,
                                     std::string_view what);
  std::string prefix_{};
  SubscriptionPtr sub_{};
};

/// What JetStream answered to one publish.
struct AckReply {
  enum class Kind {
    /// Stored (or a duplicate): `ack` holds stream, sequence and duplicate.
    stored,
    /// No stream binds the subject (the server's no-responders status).
    no_stream,
    /// Refused: `ack.error` says why (wrong last sequence, too large, ...).
    refused,
    /// Not a readable acknowledgement: whether the stream holds the message is unknown.
    unreadable,
  };
  Kind kind = Kind::unreadable;
  PubAck ack{};
  /// For refused and unreadable: what went wrong, for an error message.
  std::string text{};
};

/// Reads an answer from an AckInbox. Thread-safety: a pure function.
[[nodiscard]] AckReply read_ack(natsMsg* msg);

}  // namespace reflex::rnats::detail
