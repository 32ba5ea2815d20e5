// The CacheStore and MutexStore on JetStream KV (see nats.hpp). nats-server 2.9 has no per-key
// TTL: the expiry travels in the value, and every read honours it. Expired entries are deleted
// with a revision check, so a value or lock written again meanwhile is never deleted by mistake.

#include <stdexcept>

#include "nats/bucket.hpp"
#include "reflex/errors.hpp"
#include "reflex/rnats/errors.hpp"
#include "reflex/rstategate/nats.hpp"

namespace reflex::rstategate {
namespace {

using detail::envelope;
using detail::expired;
using detail::kv_key;
using detail::open_envelope;

/// Deletes `key` if it still has `revision` (someone else may have deleted or replaced it).
void erase_if_unchanged(rnats::StateStore& store, const std::string& key, std::uint64_t revision) {
  try {
    store.erase(key, revision);
  } catch (const rnats::RevisionConflict&) {
  }
}

class NatsCacheStore final : public CacheStore {
 public:
  NatsCacheStore(rnats::Connection nats, NatsBucketOptions options)
      : bucket_(std::move(nats), std::move(options)) {}

  void set(std::string_view domain, std::string_view key, std::string_view value,
           std::optional<Clock::time_point> expires) override {
    auto store = bucket_.get();
    (void)store.put(kv_key(domain, key), envelope(value, expires));
  }

  std::optional<CacheEntry> get(std::string_view domain, std::string_view key) override {
    auto store = bucket_.get();
    const std::string name = kv_key(domain, key);
    const auto stored = store.get(name);
    if (!stored) return std::nullopt;
    auto entry = open_envelope(stored->value);
    if (!entry) {
      throw std::runtime_error("cache value of " + name + " in bucket " + store.bucket() +
                               " is not in stategate's format");
    }
    if (expired(*entry, Clock::now())) {
      erase_if_unchanged(store, name, stored->revision);
      return std::nullopt;
    }
    return entry;
  }

  void erase(std::string_view domain, std::string_view key) override {
    auto store = bucket_.get();
    store.erase(kv_key(domain, key));
  }

 private:
  detail::LazyBucket bucket_;
};

class NatsMutexStore final : public MutexStore {
 public:
  NatsMutexStore(rnats::Connection nats, NatsBucketOptions options)
      : bucket_(std::move(nats), std::move(options)) {}

  bool lock(std::string_view domain, std::string_view key,
            std::optional<Clock::time_point> expires) override {
    auto store = bucket_.get();
    const std::string name = kv_key(domain, key);
    const std::string value = envelope({}, expires);
    // Each round either decides or loses a race to another contender's write, which then
    // decides the next round; the bound only guards against a store that keeps changing.
    for (int round = 0; round < kRounds; ++round) {
      try {
        (void)store.create(name, value);
        return true;
      } catch (const rnats::RevisionConflict&) {
      }
      const auto held = store.get(name);
      if (!held) continue;  // unlocked between the two calls: try to create again
      const auto entry = open_envelope(held->value);
      if (entry && !expired(*entry, Clock::now())) return false;
      // Expired (or unreadable): take it over, on the revision read, so that of several
      // contenders that saw it expired exactly one wins.
      try {
        (void)store.update(name, value, held->revision);
        return true;
      } catch (const rnats::RevisionConflict&) {
      }
    }
    return false;
  }

  bool unlock(std::string_view domain, std::string_view key) override {
    auto store = bucket_.get();
    const std::string name = kv_key(domain, key);
    for (int round = 0; round < kRounds; ++round) {
      const auto held = store.get(name);
      if (!held) return false;
      const auto entry = open_envelope(held->value);
      const bool live = entry && !expired(*entry, Clock::now());
      try {
        store.erase(name, held->revision);
        return live;
      } catch (const rnats::RevisionConflict&) {
        // Locked again (or taken over) meanwhile: look again.
      }
    }
    throw Unavailable("unlock " + name + ": the lock kept changing");
  }

 private:
  static constexpr int kRounds = 16;
  detail::LazyBucket bucket_;
};

}  // namespace

std::shared_ptr<CacheStore> make_nats_cache_store(rnats::Connection nats,
                                                  NatsBucketOptions options) {
  if (options.bucket.empty()) throw ConfigError("make_nats_cache_store: the bucket has no name");
  return std::make_shared<NatsCacheStore>(std::move(nats), std::move(options));
}

std::shared_ptr<MutexStore> make_nats_mutex_store(rnats::Connection nats,
                                                  NatsBucketOptions options) {
  if (options.bucket.empty()) throw ConfigError("make_nats_mutex_store: the bucket has no name");
  return std::make_shared<NatsMutexStore>(std::move(nats), std::move(options));
}

}  // namespace reflex::rstategate
