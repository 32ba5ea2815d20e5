#pragma once

#include <chrono>
#include <string_view>

#include "reflex/buffered_cursor_store.hpp"
#include "reflex/rnats/connection.hpp"
#include "reflex/rnats/export.hpp"
#include "reflex/rnats/kv.hpp"

namespace reflex::rnats {

/// Options of KvCursorStore.
struct KvCursorStoreOptions {
  /// Positive: set() only records the cursor, and a background thread writes the latest one of
  /// every consumer at this interval (so a crash replays little); flush() writes at once. Zero:
  /// every set() writes at once, like rsql::CursorsTable. A background failure is thrown by the
  /// next set() or flush().
  std::chrono::milliseconds flush_interval{std::chrono::seconds(1)};
};

/// Cursors in a NATS KV bucket, one key per consumer name (escape_key of the name): a
/// reflex::BufferedCursorStore (its buffering, forward-only and failure rules hold here) whose
/// writes are compare-and-set on the key's revision this store last read or wrote.
///
/// - When another runner advanced the cursor meanwhile, the write throws reflex::CursorConflict
///   (not retryable) with the cursor now stored, and writes nothing; later writes of that
///   consumer fail the same way until get() reads the cursor again. Run one runner per consumer.
/// - A numeric cursor never moves backwards, also when this store never read the key (it reads
///   it first): CursorConflict. force_set() rewinds deliberately.
/// - list(): every stored cursor as (consumer name, cursor), sorted by name, like
///   rsql::CursorsTable::list(): recorded sets are flushed first (so a failing flush throws
///   here), then the bucket is read; names are the keys un-escaped (unescape_key), and cursors
///   erased meanwhile by someone else are left out.
/// - remove(): erases the cursor now (a delete marker in the bucket) and drops a recorded set of
///   it; false when the bucket held no cursor for it (a recorded set alone does not count).
///   Afterwards get() returns "" and set() starts it afresh. Nothing changes when the erase fails.
/// - force_set(): writes the cursor now, unconditionally, even backwards: an operator's rewind.
///
/// Thread-safety: every member may be called from any thread. Lifetime: keeps the connection
/// alive; the destructor stops the background writer and makes a last attempt to write what is
/// recorded (its errors are swallowed: `run` flushes on exit and reports them).
class REFLEX_RNATS_EXPORT KvCursorStore final : public BufferedCursorStore {
 public:
  /// Uses `store` (its bucket should keep history 1; see StateStore::ensure).
  explicit KvCursorStore(StateStore store, const KvCursorStoreOptions& options = {});
  /// Uses bucket `bucket` as it is configured, creating it (file storage, history 1) when
  /// missing.
  KvCursorStore(const Connection& connection, std::string_view bucket,
                const KvCursorStoreOptions& options = {});

  /// The bucket's state store (to inspect cursors).
  [[nodiscard]] const StateStore& store() const noexcept { return store_; }

 private:
  StateStore store_;
};

}  // namespace reflex::rnats
