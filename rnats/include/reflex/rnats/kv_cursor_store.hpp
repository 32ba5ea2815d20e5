#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/cursor_store.hpp"
#include "reflex/rnats/kv.hpp"

namespace reflex::rnats {

/// Options of KvCursorStore.
struct KvCursorStoreOptions {
  /// Write buffered cursors in the background at this interval (so a crash replays little);
  /// zero writes only on flush(). A background failure is rethrown by the next set() or flush().
  std::chrono::milliseconds flush_interval{std::chrono::seconds(1)};
};

/// Cursors in a NATS KV bucket, one key per consumer name (escape_key of the name). Writes are
/// compare-and-set on the revision this store last read or wrote: when another runner advanced
/// the cursor meanwhile, flush throws CursorConflict (non-retryable) and writes nothing for that
/// consumer. A cursor never moves backwards: set() refuses an integer cursor below the current
/// one with CursorError (force_set() rewinds deliberately). Sets are buffered and written by
/// flush() and, optionally, periodically.
///
/// Thread-safety: every member may be called from any thread. Lifetime: keeps the connection
/// alive; the destructor stops the background writer without flushing (run flushes on exit).
class KvCursorStore final : public CursorStore {
 public:
  /// Uses `store` (its bucket should keep history 1; see StateStore::ensure).
  explicit KvCursorStore(StateStore store, const KvCursorStoreOptions& options = {});
  /// Uses bucket `bucket` as it is configured, creating it (file storage, history 1) when
  /// missing.
  KvCursorStore(const Connection& connection, std::string_view bucket,
                const KvCursorStoreOptions& options = {});
  ~KvCursorStore() override;
  KvCursorStore(const KvCursorStore&) = delete;
  KvCursorStore& operator=(const KvCursorStore&) = delete;

  [[nodiscard]] std::string get(std::string_view name) override;
  void set(std::string_view name, std::string_view cursor) override;
  void flush() override;

  /// Writes `cursor` for `name` now, unconditionally, even backwards: an operator's rewind.
  void force_set(std::string_view name, std::string_view cursor);

  /// Every stored cursor as (consumer name, cursor), sorted by name, like
  /// rsql::CursorsTable::list(): this store's buffered sets are flushed first (so they are
  /// listed, and a failing flush throws here), then the bucket is read. Names are the keys
  /// un-escaped (unescape_key). Cursors erased meanwhile by someone else are left out.
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> list();
  /// Erases the cursor of `name` now (a delete marker in the bucket) and drops a buffered set of
  /// it; returns false when the bucket held no cursor for it (a buffered set alone does not
  /// count). Afterwards get() returns "" and set() starts it afresh. Nothing changes when the
  /// erase fails.
  bool remove(std::string_view name);

  /// The bucket's state store (to inspect cursors).
  [[nodiscard]] const StateStore& store() const noexcept { return store_; }

 private:
  struct Slot {
    std::string value;           // last value read or written ("" when none)
    std::uint64_t revision = 0;  // revision of `value`; 0 when the key has no value
    bool known = false;          // value/revision were read or written by this store
    std::optional<std::string> pending;
  };
  struct Background;

  void rethrow_background_error();
  void write(const std::string& name, Slot snapshot, const std::string& cursor);

  StateStore store_;
  std::mutex mu_;
  std::mutex flush_mu_;  // one flush at a time; never held while mu_ waits on the network
  std::map<std::string, Slot, std::less<>> slots_;
  std::exception_ptr background_error_;
  std::unique_ptr<Background> background_;
};

}  // namespace reflex::rnats
