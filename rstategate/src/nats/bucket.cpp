#include "nats/bucket.hpp"

#include <charconv>

#include "reflex/rnats/errors.hpp"

namespace reflex::rstategate::detail {

LazyBucket::LazyBucket(rnats::Connection nats, NatsBucketOptions options)
    : nats_(std::move(nats)), options_(std::move(options)) {}

rnats::StateStore LazyBucket::get() {
  std::lock_guard lock(mu_);
  if (store_) return *store_;
  try {
    store_ = rnats::StateStore::open(nats_, options_.bucket);
  } catch (const rnats::NotFound&) {
    // An existing bucket keeps its operator's settings; a missing one gets ours.
    store_ =
        rnats::StateStore::ensure(nats_, {.name = options_.bucket, .storage = options_.storage});
  }
  return *store_;
}

std::string kv_key(std::string_view domain, std::string_view key) {
  return rnats::escape_key(domain) + "." + rnats::escape_key(key);
}

std::string envelope(std::string_view value, const std::optional<Clock::time_point>& expires) {
  const std::int64_t ns =
      expires ? std::chrono::duration_cast<std::chrono::nanoseconds>(expires->time_since_epoch())
                    .count()
              : 0;
  std::string out = std::to_string(ns);
  out.push_back('\n');
  out.append(value);
  return out;
}

std::optional<CacheEntry> open_envelope(std::string_view stored) {
  const auto newline = stored.find('\n');
  if (newline == std::string_view::npos) return std::nullopt;
  std::int64_t ns = 0;
  const auto [end, ec] = std::from_chars(stored.data(), stored.data() + newline, ns);
  if (ec != std::errc() || end != stored.data() + newline || ns < 0) return std::nullopt;
  CacheEntry entry{.value = std::string(stored.substr(newline + 1))};
  if (ns != 0) {
    entry.expires = Clock::time_point(
        std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
  }
  return entry;
}

}  // namespace reflex::rstategate::detail
