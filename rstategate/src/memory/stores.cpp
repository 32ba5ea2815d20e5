// The in-process CacheStore and MutexStore: maps under one mutex each, expiry checked against the
// wall clock on every access.

#include <map>
#include <mutex>
#include <utility>

#include "reflex/rstategate/backends.hpp"

namespace reflex::rstategate {
namespace {

using Key = std::pair<std::string, std::string>;

bool expired(const std::optional<Clock::time_point>& expires, Clock::time_point now) {
  return expires && *expires <= now;
}

class MemoryCacheStore final : public CacheStore {
 public:
  void set(std::string_view domain, std::string_view key, std::string_view value,
           std::optional<Clock::time_point> expires) override {
    std::lock_guard lock(mu_);
    // Now and then, sweep what expired: a cache that is only written stays bounded by its live
    // values.
    if (++writes_ % kSweepEvery == 0) sweep(Clock::now());
    entries_[Key(domain, key)] = CacheEntry{.value = std::string(value), .expires = expires};
  }

  std::optional<CacheEntry> get(std::string_view domain, std::string_view key) override {
    std::lock_guard lock(mu_);
    const auto it = entries_.find(Key(domain, key));
    if (it == entries_.end()) return std::nullopt;
    if (expired(it->second.expires, Clock::now())) {
      entries_.erase(it);
      return std::nullopt;
    }
    return it->second;
  }

  void erase(std::string_view domain, std::string_view key) override {
    std::lock_guard lock(mu_);
    entries_.erase(Key(domain, key));
  }

 private:
  static constexpr std::size_t kSweepEvery = 1024;

  void sweep(Clock::time_point now) {
    std::erase_if(entries_, [&](const auto& entry) { return expired(entry.second.expires, now); });
  }

  std::mutex mu_;
  std::map<Key, CacheEntry> entries_;
  std::size_t writes_ = 0;
};

class MemoryMutexStore final : public MutexStore {
 public:
  bool lock(std::string_view domain, std::string_view key,
            std::optional<Clock::time_point> expires) override {
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    const auto [it, inserted] = locks_.try_emplace(Key(domain, key), expires);
    if (inserted) return true;
    if (!expired(it->second, now)) return false;
    it->second = expires;  // an expired lock is free
    return true;
  }

  bool unlock(std::string_view domain, std::string_view key) override {
    std::lock_guard lock(mu_);
    const auto it = locks_.find(Key(domain, key));
    if (it == locks_.end()) return false;
    const bool held = !expired(it->second, Clock::now());
    locks_.erase(it);
    return held;
  }

 private:
  std::mutex mu_;
  std::map<Key, std::optional<Clock::time_point>> locks_;
};

}  // namespace

std::shared_ptr<CacheStore> make_memory_cache_store() {
  return std::make_shared<MemoryCacheStore>();
}

std::shared_ptr<MutexStore> make_memory_mutex_store() {
  return std::make_shared<MemoryMutexStore>();
}

}  // namespace reflex::rstategate
