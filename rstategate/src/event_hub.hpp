#pragma once
// One reader of the entities' events table for every EventService.Stream of a server: it follows
// the table from its head when the first stream starts and hands each event to the streams whose
// patterns match (to one member per consumer group, in turn).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "reflex/rstate/entities.hpp"
#include "stategate/schema.pb.h"

namespace reflex::rstategate::detail {

/// Thread-safety: every member from any thread. Lifetime: subscriptions may outlive the hub (they
/// then end); the destructor stops the reader.
class EventHub final {
 public:
  /// The events one stream receives, taken with next().
  class Subscription final {
   public:
    enum class State { open, overflowed, closed };
    /// The next event: waits until one arrives or `timeout` passes.
    [[nodiscard]] std::optional<::stategate::Event> next(std::chrono::milliseconds timeout);
    [[nodiscard]] State state() const;

   private:
    friend class EventHub;
    Subscription(std::string domain, std::string type, std::size_t capacity)
        : domain_(std::move(domain)), type_(std::move(type)), capacity_(capacity) {}
    /// False when the buffer was full (the subscription is then overflowed).
    bool push(const ::stategate::Event& event);
    void close();

    const std::string domain_, type_;
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<::stategate::Event> events_;
    State state_ = State::open;
  };

  EventHub(rstate::Entities entities, std::size_t capacity);
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  /// Subscribes to the events of domains and types matching the glob patterns; `group` non-empty
  /// shares them with the other members of that group and patterns. Returns once every event
  /// committed from now on will reach it (starting the reader, at the table's head, the first
  /// time). Unsubscribe with unsubscribe().
  [[nodiscard]] std::shared_ptr<Subscription> subscribe(const std::string& domain,
                                                        const std::string& type,
                                                        const std::string& group);
  void unsubscribe(const std::shared_ptr<Subscription>& subscription);
  /// Stops the reader and closes every subscription. Idempotent.
  void shutdown();

 private:
  using GroupKey = std::tuple<std::string, std::string, std::string>;  // group, domain, type
  struct Group {
    std::vector<std::shared_ptr<Subscription>> members;
    std::size_t next = 0;
  };

  void read(std::stop_token stop, std::string after);
  void dispatch(const ::stategate::Event& event);

  rstate::Entities entities_;
  const std::size_t capacity_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<Subscription>> solo_;
  std::map<GroupKey, Group> groups_;
  bool stopped_ = false;
  std::jthread reader_;
};

}  // namespace reflex::rstategate::detail
