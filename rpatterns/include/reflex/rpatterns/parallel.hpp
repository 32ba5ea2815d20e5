#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/consumer.hpp"
#include "reflex/rpatterns/export.hpp"
#include "reflex/run.hpp"

namespace reflex::rpatterns {

/// Maps an event to a number; the event belongs to shard `hash % n`. Must be deterministic across
/// processes and restarts (so no std::hash), or events move between shards and cursors.
using ShardHash = std::function<std::uint64_t(const Event&)>;

/// Names shard `index` (0-based) of `count` for consumer `base`; names must be distinct.
using ShardName =
    std::function<std::string(std::string_view base, std::size_t index, std::size_t count)>;

/// 32-bit FNV-1 hash of `bytes` (what luno/reflex shards with).
[[nodiscard]] REFLEX_RPATTERNS_EXPORT std::uint32_t fnv1_32(std::string_view bytes) noexcept;

/// Hash of the event id: the most even spread, no ordering between events across shards.
[[nodiscard]] REFLEX_RPATTERNS_EXPORT ShardHash by_event_id();
/// Hash of the event type: all events of one type in one shard, in order (uneven spread).
[[nodiscard]] REFLEX_RPATTERNS_EXPORT ShardHash by_type();
/// Hash of the foreign id: all events of one entity in one shard, in order.
[[nodiscard]] REFLEX_RPATTERNS_EXPORT ShardHash by_foreign_id();

/// The default ShardName: "<base>_<index+1>_of_<count>", e.g. "mailer_2_of_4".
[[nodiscard]] REFLEX_RPATTERNS_EXPORT std::string m_of_n(std::string_view base, std::size_t index,
                                                         std::size_t count);

/// How events are spread over shards. With the defaults (FNV-1 of the event id, m_of_n names)
/// and the same hash choice, events land in the same shards under the same cursor names as with
/// luno/reflex's rpatterns, so a Go consumer can move here keeping its cursors.
struct ShardOptions {
  /// Empty: by_event_id().
  ShardHash hash{};
  /// Empty: m_of_n.
  ShardName name{};
};

/// One shard of a consumer: its cursor name and the filter that passes exactly its events.
struct Shard {
  std::string name{};
  std::size_t index = 0;
  std::size_t count = 0;
  EventFilter filter{};
};

/// The `count` shards of consumer `base`. Every event passes exactly one shard's filter. Use them
/// to build any kind of consumer per shard (ack, batch, concurrent...). Throws ConfigError for
/// count 0 or names that are empty or not distinct.
[[nodiscard]] REFLEX_RPATTERNS_EXPORT std::vector<Shard> shards(std::string_view base,
                                                                std::size_t count,
                                                                const ShardOptions& options = {});

/// Options of parallel_specs.
struct ParallelOptions {
  ShardOptions shard{};
  /// Options of each shard's consumer; a filter given here is combined with the shard's filter.
  ConsumerOptions consumer{};
  StreamOptions stream{};
};

/// One spec per shard of consumer `base`, all with `fn`, `stream` and `cursors`; run them with a
/// Runner. Each shard keeps its own cursor and consumes its events in stream order.
///
/// Every shard reads the whole stream and skips the events of other shards: N shards cost N reads
/// of the stream (cheap for SQL sources with a shared head cache, N times the traffic for remote
/// ones). Changing the number of shards changes the names, so the new shards start from "" (seed
/// them, see ReadThroughCursorStore, or bootstrap them). `fn` runs on N threads at once.
[[nodiscard]] REFLEX_RPATTERNS_EXPORT std::vector<Spec> parallel_specs(
    std::string_view base, std::size_t count, StreamFunc stream,
    std::shared_ptr<CursorStore> cursors, ConsumeFunc fn, ParallelOptions options = {});

}  // namespace reflex::rpatterns
