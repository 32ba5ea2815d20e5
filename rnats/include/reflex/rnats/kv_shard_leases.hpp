#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/rnats/connection.hpp"
#include "reflex/rnats/export.hpp"
#include "reflex/rnats/kv.hpp"
#include "reflex/rpatterns/shared.hpp"

namespace reflex::rnats {

/// The shard leases and shard cursors of shared consumers (rpatterns::run_shared) in a NATS KV
/// bucket: one key per shard (`<group>.shard.<n>`) holding its owner, fencing token, expiry and
/// cursor, one key per live member (`<group>.member.<name>`), group and member names escaped
/// with escape_key. Every change is a compare-and-set on the key's revision, so two members
/// never both take a shard, and a cursor write whose token is no longer the shard's is refused
/// (reflex::CursorConflict, fenced out) however late it arrives.
///
/// Expiry times are taken from the writer's clock (milliseconds since the epoch): members'
/// clocks must agree to well within the lease time (NTP does). The bucket should keep history 1.
///
/// Thread-safety: every member may be called from any thread. Lifetime: keeps the connection
/// alive.
class REFLEX_RNATS_EXPORT KvShardLeases final : public rpatterns::ShardLeases {
 public:
  /// Uses `store` as it is.
  explicit KvShardLeases(StateStore store);
  /// Uses bucket `bucket`, creating it (file storage, history 1) when missing.
  explicit KvShardLeases(const Connection& connection, std::string_view bucket = "shards");

  std::vector<std::string> heartbeat(std::string_view group, std::string_view member,
                                     std::chrono::milliseconds ttl) override;
  void leave(std::string_view group, std::string_view member) override;
  [[nodiscard]] std::optional<rpatterns::ShardState> acquire(
      std::string_view group, std::size_t shard, std::string_view member,
      std::chrono::milliseconds ttl) override;
  [[nodiscard]] bool renew(std::string_view group, std::size_t shard, std::uint64_t token,
                           std::chrono::milliseconds ttl) override;
  void release(std::string_view group, std::size_t shard, std::uint64_t token) override;
  void write_cursor(std::string_view group, std::size_t shard, std::uint64_t token,
                    std::string_view cursor) override;
  void force_cursor(std::string_view group, std::size_t shard, std::string_view cursor) override;
  [[nodiscard]] std::vector<rpatterns::ShardState> list(std::string_view group) override;
  [[nodiscard]] std::string describe() const override;

  /// The bucket's state store (to inspect leases).
  [[nodiscard]] const StateStore& store() const noexcept { return store_; }

 private:
  StateStore store_;
};

}  // namespace reflex::rnats
