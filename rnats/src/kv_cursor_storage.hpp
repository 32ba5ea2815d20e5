#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/buffered_cursor_store.hpp"
#include "reflex/rnats/kv.hpp"

namespace reflex::rnats::detail {

/// Cursors in a KV bucket, one key per consumer (escape_key of the name), written by
/// compare-and-set on the key's revision: the one this storage last read or wrote. A write that
/// finds the revision changed (another runner wrote) is a CursorConflict; so is a numeric cursor
/// behind the stored one when this storage never read the key (it checks first).
///
/// Thread-safety: read() and list() may run concurrently with everything; the writing members one
/// at a time (BufferedCursorStore's rule). Lifetime: keeps the bucket's connection alive.
class KvCursorStorage final : public CursorStorage {
 public:
  explicit KvCursorStorage(StateStore store) : store_(std::move(store)) {}

  [[nodiscard]] std::optional<std::string> read(std::string_view name) override;
  void write(std::string_view name, std::string_view cursor) override;
  void force_write(std::string_view name, std::string_view cursor) override;
  bool remove(std::string_view name) override;
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> list() override;
  [[nodiscard]] std::string describe() const override;

 private:
  /// What this storage knows of one key.
  struct Known {
    /// What the next write compares against; 0: the key holds no value (the write creates it).
    std::uint64_t revision = 0;
    /// The newest revision ever seen: a read may install only a newer one, so a read that raced
    /// with a newer write cannot bring back the revision before it.
    std::uint64_t newest = 0;
    /// Bumped by every write of ours: a read that overlapped one installs nothing (its answer may
    /// predate the write, and an erased key has no revision to order it by).
    std::uint64_t writes = 0;
  };

  /// Records that this storage wrote `revision` (0: erased) for `name`.
  void wrote(std::string_view name, std::uint64_t revision, std::uint64_t replaced = 0);

  StateStore store_;
  std::mutex mutex_;  // guards known_; never held on I/O
  std::map<std::string, Known, std::less<>> known_;
};

}  // namespace reflex::rnats::detail
