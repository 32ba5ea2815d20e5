#pragma once
// Bare nats.c for the baselines and floors that talk to NATS without reflex: the error check
// they share, RAII for the handles they open, and the message the relay writes for an event.

#include <nats/nats.h>

#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace bench {

inline void nats_check(natsStatus s, const char* what) {
  if (s != NATS_OK) throw std::runtime_error(std::string(what) + ": " + natsStatus_GetText(s));
}

using NatsConnection = std::unique_ptr<natsConnection, decltype(&natsConnection_Destroy)>;
using JetStreamContext = std::unique_ptr<jsCtx, decltype(&jsCtx_Destroy)>;
using NatsSubscription = std::unique_ptr<natsSubscription, decltype(&natsSubscription_Destroy)>;
using NatsMessage = std::unique_ptr<natsMsg, decltype(&natsMsg_Destroy)>;

inline NatsConnection nats_connect(const std::string& url) {
  natsConnection* nc = nullptr;
  nats_check(natsConnection_ConnectTo(&nc, url.c_str()), "connect");
  return {nc, &natsConnection_Destroy};
}

/// A JetStream context whose async publishes keep at most `max_pending` unacknowledged.
inline JetStreamContext jetstream(natsConnection* nc, int max_pending = 1024) {
  jsOptions options;
  jsOptions_Init(&options);
  options.PublishAsync.MaxPending = max_pending;
  jsCtx* js = nullptr;
  nats_check(natsConnection_JetStream(&js, nc, &options), "jetstream");
  return {js, &jsCtx_Destroy};
}

/// A message on `subject` with `data` as its body and `headers` (name, value) in order.
inline NatsMessage nats_message(
    const std::string& subject, std::string_view data,
    std::initializer_list<std::pair<const char*, const char*>> headers = {}) {
  natsMsg* raw = nullptr;
  nats_check(
      natsMsg_Create(&raw, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size())),
      "message");
  NatsMessage msg(raw, &natsMsg_Destroy);
  for (const auto& [name, value] : headers) {
    nats_check(natsMsgHeader_Set(raw, name, value), "header");
  }
  return msg;
}

/// The message the relay writes for an event of type 1: reflex's headers and a message id
/// (JetStream deduplicates by it), `data` its body.
inline NatsMessage relay_like_message(const std::string& subject, const std::string& id,
                                      std::string_view data) {
  const std::string msg_id = "raw:" + id;
  return nats_message(subject, data,
                      {{"Reflex-Type", "1"},
                       {"Reflex-Foreign-Id", id.c_str()},
                       {"Reflex-Timestamp", "1764400000000000"},
                       {"Reflex-Source-Id", id.c_str()},
                       {"Nats-Msg-Id", msg_id.c_str()}});
}

/// js_PublishMsgAsync, which takes the message only when it accepts it (it then clears the
/// pointer); on an error the message stays ours and is destroyed here.
inline void publish_async(jsCtx* js, NatsMessage msg) {
  natsMsg* raw = msg.get();
  const natsStatus s = js_PublishMsgAsync(js, &raw, nullptr);
  if (raw == nullptr) static_cast<void>(msg.release());
  nats_check(s, "publish");
}

}  // namespace bench
