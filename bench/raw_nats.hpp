#pragma once
// Bare nats.c for the baselines and floors that talk to NATS without reflex: the error check
// they share, RAII for the handles they open, and the message the relay writes for an event.

#include <nats/nats.h>

#include <memory>
#include <stdexcept>
#include <string>

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

/// The message the relay writes for an event of type 1: reflex's headers and a message id
/// (JetStream deduplicates by it), `data` its body. The caller publishes it.
inline natsMsg* relay_like_message(const std::string& subject, const std::string& id,
                                   const std::string& data) {
  natsMsg* msg = nullptr;
  nats_check(
      natsMsg_Create(&msg, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size())),
      "message");
  natsMsgHeader_Set(msg, "Reflex-Type", "1");
  natsMsgHeader_Set(msg, "Reflex-Foreign-Id", id.c_str());
  natsMsgHeader_Set(msg, "Reflex-Timestamp", "1764400000000000");
  natsMsgHeader_Set(msg, "Reflex-Source-Id", id.c_str());
  natsMsgHeader_Set(msg, "Nats-Msg-Id", ("raw:" + id).c_str());
  return msg;
}

}  // namespace bench
