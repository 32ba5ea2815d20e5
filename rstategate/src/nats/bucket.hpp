#pragma once
// What the NATS cache and mutex share: their bucket, bound on first use (created when missing),
// keys made of a domain and a key, and values that carry their expiry.

#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "reflex/rnats/kv.hpp"
#include "reflex/rstategate/backends.hpp"
#include "reflex/rstategate/nats.hpp"

namespace reflex::rstategate::detail {

/// A KV bucket bound on first use: opened, or created with `options` when it does not exist (so
/// a server started while NATS is down binds it once NATS is back).
///
/// Thread-safety: get() from any thread.
class LazyBucket {
 public:
  LazyBucket(rnats::Connection nats, NatsBucketOptions options);
  [[nodiscard]] rnats::StateStore get();

 private:
  rnats::Connection nats_;
  NatsBucketOptions options_;
  std::mutex mu_;
  std::optional<rnats::StateStore> store_;
};

/// "<domain>.<key>", each escaped into one token.
[[nodiscard]] std::string kv_key(std::string_view domain, std::string_view key);

/// A value with its expiry: "<ns since the epoch, 0: never>\n<value>".
[[nodiscard]] std::string envelope(std::string_view value,
                                   const std::optional<Clock::time_point>& expires);
/// The inverse of envelope(); nullopt for a value not in that form.
[[nodiscard]] std::optional<CacheEntry> open_envelope(std::string_view stored);

[[nodiscard]] inline bool expired(const CacheEntry& entry, Clock::time_point now) {
  return entry.expires && *entry.expires <= now;
}

}  // namespace reflex::rstategate::detail
