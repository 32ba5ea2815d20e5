#include "ack_inbox.hpp"

#include <charconv>

#include "reflex/errors.hpp"
#include "reflex/event.hpp"
#include "status.hpp"

namespace reflex::rnats::detail {

AckInbox AckInbox::open(natsConnection* nc, Callback on_reply, void (*on_complete)(void*),
                        void* closure, std::string_view what) {
  natsInbox* inbox = nullptr;
  if (const natsStatus s = natsInbox_Create(&inbox); s != NATS_OK) {
    on_complete(closure);
    throw_status(s, std::string(what) + ": create an inbox");
  }
  AckInbox out;
  out.prefix_ = inbox;
  natsInbox_Destroy(inbox);
  natsSubscription* sub = nullptr;
  const natsStatus s =
      natsConnection_Subscribe(&sub, nc, (out.prefix_ + ".*").c_str(), on_reply, closure);
  if (s != NATS_OK) {
    on_complete(closure);
    throw_status(s, std::string(what) + ": subscribe to acknowledgements");
  }
  out.sub_.reset(sub);
  natsSubscription_SetOnCompleteCB(sub, on_complete, closure);
  // Bounded by the owner's window of publishes in flight, not by nats.c's limits.
  natsSubscription_SetPendingLimits(sub, -1, -1);
  return out;
}

std::string AckInbox::reply(std::uint64_t number) const {
  std::string out;
  reply(number, out);
  return out;
}

void AckInbox::reply(std::uint64_t number, std::string& out) const {
  out.assign(prefix_).push_back('.');
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, number).ptr;
  out.append(digits, static_cast<std::size_t>(end - digits));
}

std::optional<std::uint64_t> AckInbox::number(natsMsg* msg) const {
  const std::string_view subject = natsMsg_GetSubject(msg);
  if (subject.size() <= prefix_.size() + 1 || subject.compare(0, prefix_.size(), prefix_) != 0) {
    return std::nullopt;
  }
  const auto n = parse_int64(subject.substr(prefix_.size() + 1));
  if (!n || *n < 0) return std::nullopt;
  return static_cast<std::uint64_t>(*n);
}

std::optional<std::uint64_t> AckInbox::delivered_number(natsMsg* msg) {
  const std::string_view subject = natsMsg_GetSubject(msg);
  const auto dot = subject.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const auto n = parse_int64(subject.substr(dot + 1));
  if (!n || *n < 0) return std::nullopt;
  return static_cast<std::uint64_t>(*n);
}

void AckInbox::close() noexcept {
  if (sub_) natsSubscription_Unsubscribe(sub_.get());
  sub_.reset();
}

AckReply read_ack(natsMsg* msg) {
  AckReply out;
  if (natsMsg_IsNoResponders(msg)) {
    out.kind = AckReply::Kind::no_stream;
    return out;
  }
  const char* data = natsMsg_GetData(msg);
  const std::string_view body(data != nullptr ? data : "",
                              static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  try {
    out.ack = parse_pub_ack(body);
  } catch (const Error& e) {
    out.text = e.what();
    return out;
  }
  if (out.ack.error) {
    out.kind = AckReply::Kind::refused;
    out.text = out.ack.error->description + " (JetStream error " +
               std::to_string(out.ack.error->err_code) + ")";
    return out;
  }
  out.kind = AckReply::Kind::stored;
  return out;
}

}  // namespace reflex::rnats::detail
