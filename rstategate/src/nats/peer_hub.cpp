// The PeerHub on NATS core subjects (see nats.hpp): one subject per message, each name one
// escaped token; a pattern's "*" is NATS's "*"; a consumer group is a NATS queue group.

#include "reflex/rnats/core.hpp"
#include "reflex/rnats/kv.hpp"
#include "reflex/rstategate/nats.hpp"

namespace reflex::rstategate {
namespace {

std::string token(const std::string& name, bool pattern) {
  if (pattern && name == "*") return "*";
  return rnats::escape_key(name);
}

std::string subject(const std::string& prefix, const PeerTopic& topic, bool pattern) {
  return prefix + "." + token(topic.domain, pattern) + "." + token(topic.channel, pattern) + "." +
         token(topic.type, pattern);
}

class NatsInbox final : public PeerInbox {
 public:
  explicit NatsInbox(rnats::CoreSubscription subscription)
      : subscription_(std::move(subscription)) {}

  std::optional<std::string> next(std::stop_token stop,
                                  std::chrono::milliseconds timeout) override {
    auto message = subscription_.next(std::move(stop), timeout);
    if (!message) return std::nullopt;
    return std::move(message->data);
  }

 private:
  rnats::CoreSubscription subscription_;
};

class NatsPeerHub final : public PeerHub {
 public:
  NatsPeerHub(rnats::Connection nats, NatsPeerHubOptions options)
      : nats_(std::move(nats)), options_(std::move(options)) {}

  void publish(const PeerTopic& topic, std::string_view payload) override {
    rnats::publish_core(nats_, subject(options_.subject_prefix, topic, false), payload);
  }

  std::unique_ptr<PeerInbox> subscribe(const PeerTopic& pattern,
                                       std::string_view consumer_group) override {
    // A queue group's name is one token too (stategate allows any text there).
    const std::string group =
        consumer_group.empty() ? std::string() : rnats::escape_key(consumer_group);
    return std::make_unique<NatsInbox>(
        rnats::CoreSubscription(nats_, subject(options_.subject_prefix, pattern, true),
                                {.queue_group = group, .buffer = options_.inbox_capacity}));
  }

 private:
  rnats::Connection nats_;
  NatsPeerHubOptions options_;
};

}  // namespace

std::shared_ptr<PeerHub> make_nats_peer_hub(rnats::Connection nats, NatsPeerHubOptions options) {
  return std::make_shared<NatsPeerHub>(std::move(nats), std::move(options));
}

}  // namespace reflex::rstategate
