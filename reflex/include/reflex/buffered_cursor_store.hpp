#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/cursor_store.hpp"
#include "reflex/export.hpp"

namespace reflex {

/// The forward-only rule of reflex's cursor stores: true when both cursors are decimal numbers
/// and `next` is below `current` (cursors that are not numbers are written as given).
[[nodiscard]] REFLEX_CORE_EXPORT bool moves_backwards(std::string_view current,
                                                      std::string_view next) noexcept;

/// Where a BufferedCursorStore keeps its cursors durably, one cursor per consumer name: an SQL
/// table, a NATS KV bucket, a file. An implementation writes one cursor at a time and enforces
/// its store's concurrency rule (write() never lets one runner silently undo another's progress).
///
/// Thread-safety: read() may run concurrently with the other members; BufferedCursorStore calls
/// write(), force_write() and remove() one at a time.
class REFLEX_CORE_EXPORT CursorStorage {
 public:
  virtual ~CursorStorage() = default;
  /// The stored cursor of `name`, nullopt when it has none.
  [[nodiscard]] virtual std::optional<std::string> read(std::string_view name) = 0;
  /// Writes `cursor` for `name`. Throws CursorConflict when another runner is ahead: the stored
  /// cursor is a greater number (or the storage knows the stored cursor changed since it last read
  /// or wrote it). Other failures throw as they are (retryable when the server is away).
  virtual void write(std::string_view name, std::string_view cursor) = 0;
  /// Writes `cursor` for `name` unconditionally, even backwards (an operator's rewind).
  virtual void force_write(std::string_view name, std::string_view cursor) = 0;
  /// Deletes the cursor of `name`; false when there was none.
  virtual bool remove(std::string_view name) = 0;
  /// Every stored cursor as (name, cursor), sorted by name.
  [[nodiscard]] virtual std::vector<std::pair<std::string, std::string>> list() = 0;
  /// Where the cursors live, for messages: "table 'cursors'", "KV bucket \"cursors\"".
  [[nodiscard]] virtual std::string describe() const = 0;
};

/// How a BufferedCursorStore writes.
struct BufferedCursorStoreOptions {
  /// Positive: set() only records the cursor, and a background thread writes the latest cursor of
  /// every consumer this often (flush() writes at once). Zero: every set() writes at once.
  std::chrono::milliseconds flush_interval{std::chrono::seconds(1)};
  /// Told how many cursors each write round wrote (for metrics). Called on the writing thread;
  /// must not throw.
  std::function<void(std::size_t written)> on_written{};
};

/// A CursorStore that buffers the cursors `run` sets after every event and writes only the latest
/// one of each consumer to a CursorStorage: in the background every flush_interval, on flush(),
/// and at destruction. The rules every reflex cursor store follows:
///
/// - **Forward only.** A cursor that is a decimal number never moves backwards: set() refuses a
///   number below the one this store last read, wrote or recorded for that consumer, and the
///   storage refuses one below what it holds (another runner is ahead). Both are CursorConflict;
///   force_set() rewinds on purpose. Cursors that are not numbers are written as given.
/// - **Nothing is dropped.** A flush that fails keeps every cursor it could not write for the
///   next flush (unless a newer one was set meanwhile) and throws its first failure after trying
///   them all. Only a refused cursor (CursorConflict) is dropped, since writing it again cannot
///   succeed.
/// - **Failures surface.** A failure of the background writer is thrown once by the next set()
///   (which records its cursor all the same: its event was consumed, and must not be delivered
///   again for the store's failure) or flush() (which then writes nothing).
///
/// Thread-safety: every member may be called from any thread; one write round runs at a time, so
/// cursors reach the storage in the order they were set. Lifetime: the destructor stops the
/// background writer and makes a last attempt to write what is pending (its errors are
/// swallowed: call flush() first to see them).
class REFLEX_CORE_EXPORT BufferedCursorStore : public CursorStore {
 public:
  /// Throws ConfigError when `storage` is null.
  BufferedCursorStore(std::unique_ptr<CursorStorage> storage,
                      BufferedCursorStoreOptions options = {});
  ~BufferedCursorStore() override;
  BufferedCursorStore(const BufferedCursorStore&) = delete;
  BufferedCursorStore& operator=(const BufferedCursorStore&) = delete;

  /// The cursor of `name`: the one recorded and not yet written, else the stored one ("" when
  /// none).
  [[nodiscard]] std::string get(std::string_view name) override;
  /// Records `cursor` for `name` (writes it at once when unbuffered). Throws ConfigError for an
  /// empty name, CursorConflict for a numeric cursor behind the last known one.
  void set(std::string_view name, std::string_view cursor) override;
  /// Writes every recorded cursor; throws the first failure after trying all of them.
  void flush() override;

  /// Every stored cursor as (name, cursor), sorted by name; recorded ones are flushed first.
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> list();
  /// Writes `cursor` now even when it moves backwards (an operator's repair); drops a recorded
  /// one.
  void force_set(std::string_view name, std::string_view cursor);
  /// Deletes the stored cursor of `name` and drops a recorded one; false when nothing was stored.
  /// Afterwards the consumer starts afresh ("" ).
  bool remove(std::string_view name);
  /// Names of the cursors recorded but not yet written.
  [[nodiscard]] std::vector<std::string> pending() const;

  /// The storage (to inspect cursors).
  [[nodiscard]] CursorStorage& storage() const noexcept { return *storage_; }

 private:
  struct Slot {
    /// What the storage held when this store last read or wrote it.
    std::optional<std::string> known;
    /// Set and not yet written.
    std::optional<std::string> pending;
    /// Counts the writes, rewinds and removals of this cursor, so that a read that overlapped one
    /// does not install what the storage held before it.
    std::uint64_t changes = 0;
  };
  struct Flusher;

  std::exception_ptr write_pending() noexcept;
  void rethrow_background_error();

  std::unique_ptr<CursorStorage> storage_;
  BufferedCursorStoreOptions options_;
  mutable std::mutex mutex_;  // guards slots_ and background_error_; never held on I/O
  std::map<std::string, Slot, std::less<>> slots_;
  std::exception_ptr background_error_;
  std::mutex write_mutex_;  // one write round (or force_set / remove) at a time
  std::unique_ptr<Flusher> flusher_;
};

}  // namespace reflex
