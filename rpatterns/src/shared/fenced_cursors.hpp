#pragma once
// The cursor store of one owned shard: a BufferedCursorStore whose writes go through the shard's
// lease (ShardLeases::write_cursor with the lease's fencing token).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "reflex/buffered_cursor_store.hpp"
#include "reflex/rpatterns/shared.hpp"

namespace reflex::rpatterns::detail {

/// Which lease a fenced cursor store writes through.
struct FencedShard {
  std::shared_ptr<ShardLeases> leases;
  std::string group;
  std::size_t index = 0;
  std::uint64_t token = 0;
  /// The shard's consumer name: the only cursor name the store holds.
  std::string name;
};

/// A store of the one cursor `shard.name`, read from and written through `shard.leases` with
/// `shard.token`, buffered for `flush_interval` (zero: every set writes). A write refused as
/// fenced out (CursorConflict) calls `on_fenced` before it is thrown, so the owner stops the run.
/// Thread-safety: as BufferedCursorStore. Lifetime: shares ownership of the leases.
[[nodiscard]] std::shared_ptr<BufferedCursorStore> make_fenced_cursors(
    FencedShard shard, std::chrono::milliseconds flush_interval, std::function<void()> on_fenced);

}  // namespace reflex::rpatterns::detail
