// ShardLeases in memory: the rules of a lease store (tokens, expiry, fencing, forward-only
// cursors) for the threads of one process, by the process's steady clock.
#include <map>
#include <mutex>

#include "reflex/buffered_cursor_store.hpp"
#include "reflex/errors.hpp"
#include "reflex/rpatterns/shared.hpp"

namespace reflex::rpatterns {

namespace {

using Clock = std::chrono::steady_clock;

/// Thread-safety: every member may be called from any thread (one mutex, no I/O under it).
class MemShardLeases final : public ShardLeases {
 public:
  std::vector<std::string> heartbeat(std::string_view group, std::string_view member,
                                     std::chrono::milliseconds ttl) override {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    auto& members = groups_[std::string(group)].members;
    members[std::string(member)] = now + ttl;
    std::vector<std::string> live;
    for (const auto& [name, expires] : members) {
      if (expires >= now) live.push_back(name);  // a std::map: sorted already
    }
    return live;
  }

  void leave(std::string_view group, std::string_view member) override {
    std::lock_guard lock(mutex_);
    const auto found = groups_.find(group);
    if (found != groups_.end()) found->second.members.erase(std::string(member));
  }

  std::optional<ShardState> acquire(std::string_view group, std::size_t shard,
                                    std::string_view member,
                                    std::chrono::milliseconds ttl) override {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    auto& row = groups_[std::string(group)].shards[shard];
    if (!row.owner.empty() && row.owner != member && row.expires >= now) return std::nullopt;
    row.owner = std::string(member);
    ++row.token;
    row.expires = now + ttl;
    return state(shard, row, now);
  }

  bool renew(std::string_view group, std::size_t shard, std::uint64_t token,
             std::chrono::milliseconds ttl) override {
    std::lock_guard lock(mutex_);
    Row* row = find(group, shard);
    if (row == nullptr || row->token != token || row->owner.empty()) return false;
    row->expires = Clock::now() + ttl;
    return true;
  }

  void release(std::string_view group, std::size_t shard, std::uint64_t token) override {
    std::lock_guard lock(mutex_);
    Row* row = find(group, shard);
    if (row == nullptr || row->token != token) return;
    row->owner.clear();
    row->expires = {};
  }

  void write_cursor(std::string_view group, std::size_t shard, std::uint64_t token,
                    std::string_view cursor) override {
    std::lock_guard lock(mutex_);
    Row* row = find(group, shard);
    if (row == nullptr || row->token != token || row->owner.empty()) {
      throw CursorConflict::fenced_out(shard_name(group, shard), token, std::string(cursor),
                                       describe());
    }
    if (moves_backwards(row->cursor, cursor)) {
      throw CursorConflict(shard_name(group, shard), row->cursor, std::string(cursor), describe());
    }
    row->cursor = std::string(cursor);
  }

  void force_cursor(std::string_view group, std::size_t shard, std::string_view cursor) override {
    std::lock_guard lock(mutex_);
    groups_[std::string(group)].shards[shard].cursor = std::string(cursor);
  }

  std::vector<ShardState> list(std::string_view group) override {
    std::lock_guard lock(mutex_);
    std::vector<ShardState> out;
    const auto found = groups_.find(group);
    if (found == groups_.end()) return out;
    const auto now = Clock::now();
    for (const auto& [shard, row] : found->second.shards) out.push_back(state(shard, row, now));
    return out;
  }

  std::string describe() const override { return "memory shard leases"; }

 private:
  struct Row {
    std::string owner;
    std::uint64_t token = 0;
    Clock::time_point expires{};
    std::string cursor;
  };
  struct Group {
    std::map<std::string, Clock::time_point> members;
    std::map<std::size_t, Row> shards;
  };

  /// Shard names without the count, which the store does not know: "<group>#<shard>".
  static std::string shard_name(std::string_view group, std::size_t shard) {
    return std::string(group) + "#" + std::to_string(shard);
  }

  /// The row as a ShardState; its steady expiry becomes a system_clock time (none when free).
  static ShardState state(std::size_t shard, const Row& row, Clock::time_point now) {
    std::chrono::system_clock::time_point expires{};
    if (row.expires != Clock::time_point{}) {
      expires = std::chrono::system_clock::now() +
                std::chrono::duration_cast<std::chrono::system_clock::duration>(row.expires - now);
    }
    return ShardState{.shard = shard,
                      .owner = row.owner,
                      .token = row.token,
                      .expires = expires,
                      .cursor = row.cursor};
  }

  Row* find(std::string_view group, std::size_t shard) {
    const auto found = groups_.find(group);
    if (found == groups_.end()) return nullptr;
    const auto row = found->second.shards.find(shard);
    return row == found->second.shards.end() ? nullptr : &row->second;
  }

  std::mutex mutex_;
  std::map<std::string, Group, std::less<>> groups_;
};

}  // namespace

std::shared_ptr<ShardLeases> make_mem_shard_leases() {
  return std::make_shared<MemShardLeases>();
}

}  // namespace reflex::rpatterns
