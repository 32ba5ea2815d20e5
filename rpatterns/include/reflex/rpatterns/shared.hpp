#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/consumer.hpp"
#include "reflex/cursor_store.hpp"
#include "reflex/metrics.hpp"
#include "reflex/rpatterns/export.hpp"
#include "reflex/rpatterns/log.hpp"
#include "reflex/rpatterns/parallel.hpp"
#include "reflex/rpatterns/run_forever.hpp"
#include "reflex/rpatterns/transactional.hpp"
#include "reflex/run.hpp"

namespace reflex::rpatterns {

/// One shard of a shared consumer as a ShardLeases store holds it.
struct ShardState {
  std::size_t shard = 0;
  /// The member holding the lease; "" when it is free.
  std::string owner{};
  /// The fencing token of the latest lease; every acquisition gets a greater one.
  std::uint64_t token = 0;
  /// When the lease ends unless renewed (by the store's clock).
  std::chrono::system_clock::time_point expires{};
  /// The shard's committed cursor ("" when none).
  std::string cursor{};
};

/// Leases on the shards of shared consumers, with fencing tokens, and the shards' cursors: what
/// lets N processes share one logical consumer with one owner per shard at a time. A lease is held
/// for a time (ttl) and renewed; a member that dies loses its leases when they expire. Each
/// acquisition hands out a token greater than every earlier one of the shard, and a cursor is
/// written only with the token of the current lease, so an owner that lost its lease (paused,
/// partitioned) cannot move the cursor back under its successor: it is fenced out.
/// Implementations: rsql::ShardsTable (SQL), rnats::KvShardLeases (NATS KV, revision
/// compare-and-set), MemShardLeases (one process).
///
/// Thread-safety: every member may be called from any thread. Lifetime: must outlive the runs
/// using it.
class REFLEX_RPATTERNS_EXPORT ShardLeases {
 public:
  virtual ~ShardLeases() = default;

  /// Records `member` as alive in `group` for `ttl`; returns every live member of the group,
  /// sorted, `member` included.
  virtual std::vector<std::string> heartbeat(std::string_view group, std::string_view member,
                                             std::chrono::milliseconds ttl) = 0;
  /// Removes `member` from `group` (a clean exit: the others rebalance at once).
  virtual void leave(std::string_view group, std::string_view member) = 0;
  /// Takes `shard` of `group` for `member` for `ttl` when it is free, its lease expired or
  /// `member` itself holds it (a member that dropped a lease it could not confirm takes it back),
  /// with a new fencing token; nullopt while another member holds it.
  [[nodiscard]] virtual std::optional<ShardState> acquire(std::string_view group, std::size_t shard,
                                                          std::string_view member,
                                                          std::chrono::milliseconds ttl) = 0;
  /// Extends the lease that `token` holds by `ttl` from now; false when it no longer holds it.
  [[nodiscard]] virtual bool renew(std::string_view group, std::size_t shard, std::uint64_t token,
                                   std::chrono::milliseconds ttl) = 0;
  /// Frees the lease `token` holds, so another member may take it at once (nothing when it no
  /// longer holds it).
  virtual void release(std::string_view group, std::size_t shard, std::uint64_t token) = 0;
  /// Writes the shard's cursor while `token` holds its lease (even if expired, as long as nobody
  /// took it since); CursorConflict when fenced out, or when `cursor` is a number below the
  /// stored one.
  virtual void write_cursor(std::string_view group, std::size_t shard, std::uint64_t token,
                            std::string_view cursor) = 0;
  /// Writes a shard's cursor whoever holds it (an operator's rewind or seed).
  virtual void force_cursor(std::string_view group, std::size_t shard, std::string_view cursor) = 0;
  /// Every shard of `group` the store knows, by shard number.
  [[nodiscard]] virtual std::vector<ShardState> list(std::string_view group) = 0;
  /// Where the leases live, for messages: "table 'shards'", "KV bucket \"shards\"".
  [[nodiscard]] virtual std::string describe() const = 0;
};

/// ShardLeases in memory, for the threads of one process (and tests of the runner). The clock is
/// the steady clock of the process.
[[nodiscard]] REFLEX_RPATTERNS_EXPORT std::shared_ptr<ShardLeases> make_mem_shard_leases();

/// What a shard runs while this process holds its lease.
struct ShardContext {
  /// The shared consumer's name.
  std::string group{};
  std::size_t index = 0;
  std::size_t count = 0;
  /// The name of the shard's consumer (metrics, logs): "<group>_<index+1>_of_<count>".
  std::string name{};
  /// Passes exactly the events of this shard.
  EventFilter filter{};
  /// The shard's cursor, written through the lease (fenced): a write after the lease was lost is
  /// CursorConflict and ends the shard's run.
  std::shared_ptr<CursorStore> cursors{};
  /// The shard's cursor for transactional cursors (its fencing token included).
  CursorRef ref{};
  /// SharedOptions::metrics, for the shard's consumer (which reports under `name`); may be null.
  std::shared_ptr<MetricsObserver> metrics{};
};

/// Builds the spec a shard runs (a fresh one at each acquisition of its lease). The spec must use
/// `context.filter` (or a finer one) and either `context.cursors` or, for transactional cursors,
/// `context.ref`.
using ShardSpecFunc = std::function<Spec(const ShardContext& context)>;

/// A ShardSpecFunc for a consumer function: `fn` gets the events of the shard, in stream order,
/// and the cursor is buffered and written through the lease. On the loss of a lease, at most
/// the events consumed since the last cursor write are consumed again by the next owner.
[[nodiscard]] REFLEX_RPATTERNS_EXPORT ShardSpecFunc shard_consumer(StreamFunc stream,
                                                                   ConsumeFunc fn,
                                                                   ConsumerOptions consumer = {},
                                                                   StreamOptions options = {});

/// A ShardSpecFunc whose shards commit their effects with their cursors (transactional.hpp):
/// no event's effects repeat, across crashes, lease losses and rebalancing.
template <class Transaction>
[[nodiscard]] ShardSpecFunc transactional_shards(
    StreamFunc stream, std::shared_ptr<TransactionalCursors<Transaction>> cursors,
    TransactionalConsumeFunc<Transaction> fn, TransactionalOptions options = {}) {
  return [stream = std::move(stream), cursors = std::move(cursors), fn = std::move(fn),
          options = std::move(options)](const ShardContext& context) {
    TransactionalOptions shard_options = options;
    shard_options.filter =
        options.filter ? all_of({context.filter, options.filter}) : context.filter;
    return transactional_spec<Transaction>(stream, cursors, context.ref, fn,
                                           std::move(shard_options));
  };
}

/// Options of run_shared.
struct SharedOptions {
  /// The number of shards. Every member must use the same number (and hash).
  std::size_t shards = 8;
  /// Which shard an event belongs to. Empty: by_foreign_id(), so each entity's events stay in
  /// order.
  ShardHash hash{};
  /// This process's name in the group; empty: "<hostname>-<pid>-<random>".
  std::string member{};
  /// How long a lease (and a membership) lasts without renewal. A dead member's shards move
  /// after this long.
  std::chrono::milliseconds lease_ttl{std::chrono::seconds(10)};
  /// How often leases and membership are renewed and the share recomputed; zero: lease_ttl / 4.
  /// At most lease_ttl / 2, so that one late renewal does not cost a lease.
  std::chrono::milliseconds renew_interval{0};
  /// How often a shard's buffered cursor is written through its lease (ShardContext::cursors);
  /// zero: after every event. On the loss of a lease (a crash), at most the events consumed in
  /// this time are consumed again by the next owner.
  std::chrono::milliseconds cursor_flush_interval{std::chrono::seconds(1)};
  /// How a failed shard run is restarted (backoff, log), as run_forever does; the log also gets
  /// the coordinator's failures (a lease store that cannot be reached).
  RunForeverOptions restart{};
  /// Where per-shard metrics go (each shard's consumer metrics carry the shard's name; the
  /// owner gauge `reflex_shard_owned`); nullptr records nothing.
  std::shared_ptr<MetricsObserver> metrics{};
  /// Told of every lease taken, released or lost (shard index, what happened); for logs. Called
  /// from the coordinating thread; must not throw.
  std::function<void(std::size_t shard, std::string_view what)> on_change{};
};

/// Runs this process's share of the shared consumer `group` until `stop`: N processes (any
/// machines) calling run_shared with the same group, leases and options share its shards, each
/// shard owned by one of them at a time. The share is fair: shards are dealt over the live
/// members (sorted by name) round robin; a member that joins takes its share as the others give
/// it up, a member that leaves (or dies, after lease_ttl) leaves its shards to the others. A
/// shard changes hands only after its owner stopped running it (released) or its lease expired.
/// Each owned shard runs `make_spec(context)` with reflex::run on a thread of its own, restarted
/// after a failure (after a short backoff, as run_forever does). Returns when `stop` is
/// requested, after its shards stopped, wrote their cursors and were released.
REFLEX_RPATTERNS_EXPORT void run_shared(std::stop_token stop, std::shared_ptr<ShardLeases> leases,
                                        std::string group, ShardSpecFunc make_spec,
                                        SharedOptions options = {});

}  // namespace reflex::rpatterns
