// Shard leases in a KV bucket. Every change reads a key, decides, and writes it back by
// compare-and-set on the revision it read; a lost race is read again and decided again, so the
// decision is always taken on the latest value (a renewal and a cursor write of the same owner
// from two threads race like any two writers).
#include "reflex/rnats/kv_shard_leases.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "kv_state.hpp"
#include "reflex/buffered_cursor_store.hpp"
#include "reflex/errors.hpp"
#include "reflex/rnats/errors.hpp"

namespace reflex::rnats {

namespace {

using Clock = std::chrono::system_clock;
using nlohmann::json;
using rpatterns::ShardState;

/// Compare-and-set rounds before a change gives up: only a storm of writers to one key (which a
/// shard never sees: its owner and an operator) exhausts them.
constexpr int kMaxRounds = 32;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

std::string group_prefix(std::string_view group) {
  return escape_key(group) + ".";
}
std::string shard_key(std::string_view group, std::size_t shard) {
  return group_prefix(group) + "shard." + std::to_string(shard);
}
std::string member_key(std::string_view group, std::string_view member) {
  return group_prefix(group) + "member." + escape_key(member);
}

/// A shard as messages name it.
std::string shard_name(std::string_view group, std::size_t shard) {
  return std::string(group) + " shard " + std::to_string(shard);
}

/// A shard key's value: {"owner", "token", "expires" (ms since the epoch), "cursor"}.
struct Lease {
  std::string owner;
  std::uint64_t token = 0;
  std::int64_t expires_ms = 0;
  std::string cursor;

  [[nodiscard]] bool held(std::int64_t now) const { return !owner.empty() && expires_ms > now; }
};

Lease parse_lease(const Entry& entry, const std::string& bucket) {
  try {
    const json j = json::parse(entry.value);
    return Lease{.owner = j.value("owner", std::string()),
                 .token = j.value("token", std::uint64_t{0}),
                 .expires_ms = j.value("expires", std::int64_t{0}),
                 .cursor = j.value("cursor", std::string())};
  } catch (const json::exception& e) {
    throw Error("KV bucket \"" + bucket + "\": key \"" + entry.key + "\" is not a shard lease (" +
                e.what() + "); give shared consumers a bucket of their own");
  }
}

std::string format_lease(const Lease& lease) {
  return json{{"owner", lease.owner},
              {"token", lease.token},
              {"expires", lease.expires_ms},
              {"cursor", lease.cursor}}
      .dump();
}

ShardState to_state(std::size_t shard, const Lease& lease) {
  return ShardState{.shard = shard,
                    .owner = lease.owner,
                    .token = lease.token,
                    .expires = Clock::time_point(std::chrono::milliseconds(lease.expires_ms)),
                    .cursor = lease.cursor};
}

/// What a change decided for the lease it was shown.
enum class Decision { write, keep };

/// Reads the shard's lease and lets `decide` change it (nullopt: the shard has no key yet) until
/// its write lands on the revision it read; false when `decide` kept it as it was.
template <class Decide>
bool change_lease(StateStore& store, const std::string& key, Decide&& decide) {
  for (int round = 0; round < kMaxRounds; ++round) {
    const auto entry = store.get(key);
    std::optional<Lease> lease;
    if (entry) lease = parse_lease(*entry, store.bucket());
    Lease next = lease.value_or(Lease{});
    if (decide(lease, next) == Decision::keep) return false;
    try {
      if (entry) {
        store.update(key, format_lease(next), entry->revision);
      } else {
        store.create(key, format_lease(next));
      }
      return true;
    } catch (const RevisionConflict&) {
      // Someone wrote in between: decide again on what is there now.
    }
  }
  throw Error("KV bucket \"" + store.bucket() + "\": key \"" + key + "\" kept changing under " +
              std::to_string(kMaxRounds) +
              " compare-and-set rounds; is something else writing to the bucket?");
}

}  // namespace

KvShardLeases::KvShardLeases(StateStore store) : store_(std::move(store)) {}

KvShardLeases::KvShardLeases(const Connection& connection, std::string_view bucket)
    : KvShardLeases(detail::open_or_create(connection, bucket)) {}

std::vector<std::string> KvShardLeases::heartbeat(std::string_view group, std::string_view member,
                                                  std::chrono::milliseconds ttl) {
  const std::int64_t now = now_ms();
  store_.put(member_key(group, member), json{{"expires", now + ttl.count()}}.dump());
  const std::string prefix = group_prefix(group) + "member.";
  std::vector<std::string> members;
  for (const auto& key : store_.keys()) {
    if (key.rfind(prefix, 0) != 0) continue;
    const auto entry = store_.get(key);
    if (!entry) continue;  // left meanwhile
    std::int64_t expires = 0;
    try {
      expires = json::parse(entry->value).value("expires", std::int64_t{0});
    } catch (const json::exception&) {
      continue;  // not ours to judge; a member key is only ever written here
    }
    if (expires > now) {
      members.push_back(unescape_key(std::string_view(key).substr(prefix.size())));
    } else {
      // A dead member's key: remove it, unless it came back meanwhile.
      try {
        store_.erase(key, entry->revision);
      } catch (const RevisionConflict&) {
      }
    }
  }
  const std::string self(member);
  if (std::find(members.begin(), members.end(), self) == members.end()) members.push_back(self);
  std::sort(members.begin(), members.end());
  return members;
}

void KvShardLeases::leave(std::string_view group, std::string_view member) {
  store_.erase(member_key(group, member));
}

std::optional<ShardState> KvShardLeases::acquire(std::string_view group, std::size_t shard,
                                                 std::string_view member,
                                                 std::chrono::milliseconds ttl) {
  ShardState taken;
  const bool done = change_lease(store_, shard_key(group, shard),
                                 [&](const std::optional<Lease>& lease, Lease& next) {
                                   const std::int64_t now = now_ms();
                                   // Held by `member` itself: a lease it dropped (it could not
                                   // confirm it) is taken back with a new token, which fences
                                   // its earlier run.
                                   if (lease && lease->held(now) && lease->owner != member) {
                                     return Decision::keep;
                                   }
                                   next.owner = std::string(member);
                                   next.token = (lease ? lease->token : 0) + 1;
                                   next.expires_ms = now + ttl.count();
                                   taken = to_state(shard, next);
                                   return Decision::write;
                                 });
  if (!done) return std::nullopt;
  return taken;
}

bool KvShardLeases::renew(std::string_view group, std::size_t shard, std::uint64_t token,
                          std::chrono::milliseconds ttl) {
  return change_lease(store_, shard_key(group, shard),
                      [&](const std::optional<Lease>& lease, Lease& next) {
                        if (!lease || lease->token != token || lease->owner.empty()) {
                          return Decision::keep;
                        }
                        next.expires_ms = now_ms() + ttl.count();
                        return Decision::write;
                      });
}

void KvShardLeases::release(std::string_view group, std::size_t shard, std::uint64_t token) {
  (void)change_lease(store_, shard_key(group, shard),
                     [&](const std::optional<Lease>& lease, Lease& next) {
                       if (!lease || lease->token != token || lease->owner.empty()) {
                         return Decision::keep;
                       }
                       next.owner.clear();
                       next.expires_ms = 0;
                       return Decision::write;
                     });
}

void KvShardLeases::write_cursor(std::string_view group, std::size_t shard, std::uint64_t token,
                                 std::string_view cursor) {
  const std::string key = shard_key(group, shard);
  (void)change_lease(store_, key, [&](const std::optional<Lease>& lease, Lease& next) {
    // The token decides, not the expiry: an owner whose lease ran out may still write until
    // someone else takes the shard (which gives it a new token); a released lease writes no more.
    if (!lease || lease->token != token || lease->owner.empty()) {
      throw CursorConflict::fenced_out(
          shard_name(group, shard), token, std::string(cursor),
          describe() + (lease && !lease->owner.empty()
                            ? ", now held by \"" + lease->owner + "\" with token " +
                                  std::to_string(lease->token)
                            : std::string()));
    }
    if (moves_backwards(lease->cursor, cursor)) {
      throw CursorConflict(shard_name(group, shard), lease->cursor, std::string(cursor),
                           describe());
    }
    if (lease->cursor == cursor) return Decision::keep;
    next.cursor = std::string(cursor);
    return Decision::write;
  });
}

void KvShardLeases::force_cursor(std::string_view group, std::size_t shard,
                                 std::string_view cursor) {
  (void)change_lease(store_, shard_key(group, shard),
                     [&](const std::optional<Lease>&, Lease& next) {
                       next.cursor = std::string(cursor);
                       return Decision::write;
                     });
}

std::vector<ShardState> KvShardLeases::list(std::string_view group) {
  const std::string prefix = group_prefix(group) + "shard.";
  std::vector<ShardState> out;
  for (const auto& key : store_.keys()) {
    if (key.rfind(prefix, 0) != 0) continue;
    const std::string_view number = std::string_view(key).substr(prefix.size());
    if (number.empty() ||
        !std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    if (const auto entry = store_.get(key)) {
      out.push_back(
          to_state(std::stoull(std::string(number)), parse_lease(*entry, store_.bucket())));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const ShardState& a, const ShardState& b) { return a.shard < b.shard; });
  return out;
}

std::string KvShardLeases::describe() const {
  return "KV bucket \"" + store_.bucket() + "\"";
}

}  // namespace reflex::rnats
