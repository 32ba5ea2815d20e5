#include "event_hub.hpp"

#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "reflex/errors.hpp"
#include "reflex/rstategate/entity_service.hpp"
#include "reflex/wait.hpp"

namespace reflex::rstategate::detail {

using namespace std::chrono_literals;

std::optional<::stategate::Event> EventHub::Subscription::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, timeout, [&] { return !events_.empty() || state_ != State::open; });
  if (events_.empty()) return std::nullopt;
  auto event = std::move(events_.front());
  events_.pop_front();
  return event;
}

EventHub::Subscription::State EventHub::Subscription::state() const {
  std::lock_guard lock(mutex_);
  // What was taken in before the end is still delivered: the state shows once it is drained.
  return events_.empty() ? state_ : State::open;
}

bool EventHub::Subscription::push(const ::stategate::Event& event) {
  std::lock_guard lock(mutex_);
  if (state_ != State::open) return false;
  if (events_.size() >= capacity_) {
    state_ = State::overflowed;
    ready_.notify_all();
    return false;
  }
  events_.push_back(event);
  ready_.notify_all();
  return true;
}

void EventHub::Subscription::close() {
  std::lock_guard lock(mutex_);
  if (state_ == State::open) state_ = State::closed;
  ready_.notify_all();
}

EventHub::EventHub(rstate::Entities entities, std::size_t capacity)
    : entities_(std::move(entities)), capacity_(capacity) {}

EventHub::~EventHub() {
  shutdown();
}

std::shared_ptr<EventHub::Subscription> EventHub::subscribe(const std::string& domain,
                                                            const std::string& type,
                                                            const std::string& group) {
  // The head is read before the subscription is registered, and the reader starts after it: an
  // event committed after this call returns is after the head, so the reader reads it while the
  // subscription is registered.
  std::unique_lock lock(mutex_);
  if (stopped_) throw Unavailable("server shutting down");
  if (!reader_.joinable()) {
    std::string head = entities_.events().head();
    reader_ =
        std::jthread([this, head = std::move(head)](std::stop_token stop) { read(stop, head); });
  }
  auto subscription = std::shared_ptr<Subscription>(new Subscription(domain, type, capacity_));
  if (group.empty()) {
    solo_.push_back(subscription);
  } else {
    groups_[{group, domain, type}].members.push_back(subscription);
  }
  return subscription;
}

void EventHub::unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  std::lock_guard lock(mutex_);
  std::erase(solo_, subscription);
  for (auto it = groups_.begin(); it != groups_.end();) {
    std::erase(it->second.members, subscription);
    it = it->second.members.empty() ? groups_.erase(it) : std::next(it);
  }
  subscription->close();
}

void EventHub::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& s : solo_) s->close();
    for (auto& [key, group] : groups_) {
      for (auto& s : group.members) s->close();
    }
  }
  reader_.request_stop();
  if (reader_.joinable()) reader_.join();
}

void EventHub::read(std::stop_token stop, std::string after) {
  // A database that fails is read again from the last event handed out, after a pause: the
  // streams wait meanwhile and miss nothing.
  auto pause = 100ms;
  while (!stop.stop_requested()) {
    try {
      auto stream = entities_.events().stream(stop, after);
      for (;;) {
        const auto event = stream->recv();
        ::stategate::Event message;
        if (google::protobuf::util::JsonStringToMessage(event.metadata, &message).ok()) {
          dispatch(message);
        }
        after = event.id;
        pause = 100ms;
      }
    } catch (const Canceled&) {
      return;
    } catch (const std::exception&) {
      if (stop.stop_requested()) return;
      (void)sleep_for(stop, pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(5000));
    }
  }
}

void EventHub::dispatch(const ::stategate::Event& event) {
  const auto& domain = event.entity().domain();
  const auto& type = event.entity().type();
  std::vector<std::shared_ptr<Subscription>> overflowed;
  {
    std::lock_guard lock(mutex_);
    for (const auto& s : solo_) {
      if (glob_match(s->domain_, domain) && glob_match(s->type_, type) && !s->push(event)) {
        overflowed.push_back(s);
      }
    }
    for (auto& [key, group] : groups_) {
      if (!glob_match(std::get<1>(key), domain) || !glob_match(std::get<2>(key), type)) continue;
      if (group.members.empty()) continue;
      auto& member = group.members[group.next++ % group.members.size()];
      if (!member->push(event)) overflowed.push_back(member);
    }
  }
  for (const auto& s : overflowed) unsubscribe(s);
}

}  // namespace reflex::rstategate::detail

namespace reflex::rstategate {

bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  // Iterative matching with one backtrack point (the last '*'): linear in practice.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace reflex::rstategate
