// The in-process PeerHub: subscribers in a list per (pattern, group); a publish hands the payload
// to every matching subscriber without a group and to one member of each matching group, in turn.

#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "reflex/rstategate/backends.hpp"

namespace reflex::rstategate {
namespace {

bool matches(const std::string& pattern, const std::string& value) {
  return pattern == "*" || pattern == value;
}

bool matches(const PeerTopic& pattern, const PeerTopic& topic) {
  return matches(pattern.domain, topic.domain) && matches(pattern.channel, topic.channel) &&
         matches(pattern.type, topic.type);
}

/// One subscriber's queue; shared by its inbox and the hub's lists (the hub drops it on
/// unsubscribe).
class Queue {
 public:
  explicit Queue(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  void push(std::string_view payload) {
    {
      std::lock_guard lock(mu_);
      if (items_.size() >= capacity_) return;  // a slow consumer: dropped, as NATS does
      items_.emplace_back(payload);
    }
    ready_.notify_one();
  }

  std::optional<std::string> pop(std::stop_token stop, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    ready_.wait_for(lock, stop, timeout, [&] { return !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    std::string out = std::move(items_.front());
    items_.pop_front();
    return out;
  }

 private:
  const std::size_t capacity_;
  std::mutex mu_;
  std::condition_variable_any ready_;
  std::deque<std::string> items_;
};

/// The subscribers of one pattern in one group ("" : each one is on its own).
struct Group {
  PeerTopic pattern;
  std::list<std::shared_ptr<Queue>> members;
  std::size_t turn = 0;
};

class MemoryPeerHub;

class MemoryInbox final : public PeerInbox {
 public:
  MemoryInbox(std::shared_ptr<MemoryPeerHub> hub, std::shared_ptr<Queue> queue,
              std::tuple<std::string, std::string, std::string, std::string> group)
      : hub_(std::move(hub)), queue_(std::move(queue)), group_(std::move(group)) {}
  ~MemoryInbox() override;

  std::optional<std::string> next(std::stop_token stop,
                                  std::chrono::milliseconds timeout) override {
    return queue_->pop(std::move(stop), timeout);
  }

 private:
  std::shared_ptr<MemoryPeerHub> hub_;
  std::shared_ptr<Queue> queue_;
  std::tuple<std::string, std::string, std::string, std::string> group_;
};

class MemoryPeerHub final : public PeerHub, public std::enable_shared_from_this<MemoryPeerHub> {
 public:
  using Key = std::tuple<std::string, std::string, std::string, std::string>;

  explicit MemoryPeerHub(MemoryPeerHubOptions options) : options_(options) {}

  void publish(const PeerTopic& topic, std::string_view payload) override {
    std::lock_guard lock(mu_);
    for (auto& [key, group] : groups_) {
      if (!matches(group.pattern, topic) || group.members.empty()) continue;
      if (std::get<3>(key).empty()) {
        for (const auto& member : group.members) member->push(payload);
      } else {
        auto it = group.members.begin();
        std::advance(it, static_cast<std::ptrdiff_t>(group.turn % group.members.size()));
        (*it)->push(payload);
        group.turn = (group.turn + 1) % group.members.size();
      }
    }
  }

  std::unique_ptr<PeerInbox> subscribe(const PeerTopic& pattern,
                                       std::string_view consumer_group) override {
    Key key{pattern.domain, pattern.channel, pattern.type, std::string(consumer_group)};
    auto queue = std::make_shared<Queue>(options_.inbox_capacity);
    {
      std::lock_guard lock(mu_);
      auto& group = groups_[key];
      group.pattern = pattern;
      group.members.push_back(queue);
    }
    return std::make_unique<MemoryInbox>(shared_from_this(), std::move(queue), std::move(key));
  }

  void unsubscribe(const Key& key, const std::shared_ptr<Queue>& queue) {
    std::lock_guard lock(mu_);
    const auto it = groups_.find(key);
    if (it == groups_.end()) return;
    it->second.members.remove(queue);
    if (it->second.members.empty()) groups_.erase(it);
  }

 private:
  const MemoryPeerHubOptions options_;
  std::mutex mu_;
  std::map<Key, Group> groups_;
};

MemoryInbox::~MemoryInbox() {
  hub_->unsubscribe(group_, queue_);
}

}  // namespace

std::shared_ptr<PeerHub> make_memory_peer_hub(MemoryPeerHubOptions options) {
  return std::make_shared<MemoryPeerHub>(options);
}

}  // namespace reflex::rstategate
