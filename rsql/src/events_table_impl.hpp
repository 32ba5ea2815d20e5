#pragma once
// The state behind an EventsTable handle, shared by its copies, its streams (reader.cpp,
// head_cache.cpp) and the dialects' insert code (postgres/insert.cpp, mysql/insert.cpp,
// sqlite/insert.cpp).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "driver.hpp"
#include "reflex/rsql/events_table.hpp"
#include "session_pool.hpp"

namespace reflex::rsql::detail {

class Reader;

/// What wakes a table's streams: a commit in this process (notify) or another's (the
/// cross-process notifier's thread). Shared with that thread by weak pointer: the thread must
/// never hold the last reference to the table itself, whose destruction joins it.
struct WakeState {
  std::mutex mutex;
  std::condition_variable_any cv;
  std::uint64_t generation = 0;

  void wake() {
    {
      std::lock_guard lock(mutex);
      ++generation;
    }
    cv.notify_all();
  }
};

/// Thread-safety: the head cache and wake-ups are guarded by `mutex`; the rest is immutable
/// after construction. Lifetime: shared by the table's handles, streams and notifiers.
class EventsTableImpl final : public Notifier::Target,
                              public std::enable_shared_from_this<EventsTableImpl> {
 public:
  EventsTableImpl(std::shared_ptr<Database> database, EventsTableOptions options);
  ~EventsTableImpl() override;
  EventsTableImpl(const EventsTableImpl&) = delete;
  EventsTableImpl& operator=(const EventsTableImpl&) = delete;

  /// Wakes this table's streams in this process, and other processes' (PostgreSQL NOTIFY).
  void notify() noexcept override;
  [[nodiscard]] Notifier notifier() { return Notifier(weak_from_this()); }

  /// The column list of an insert, in bind order: foreign id, type, [metadata], [trace],
  /// [timestamp when `with_timestamp`].
  [[nodiscard]] std::string insert_columns(bool with_timestamp) const;
  /// Checks one event before it is bound (ConfigError for bad input).
  void check(const NewEvent& event) const;
  /// Throws ConfigError unless the table is of `dialect`: a producer passed another database's
  /// transaction (`what` names the call).
  void expect_dialect(Dialect expected, std::string_view what) const;
  /// For streams: creates the cross-process notifier if needed and starts its LISTEN.
  void listen_cross_process();
  /// True while cross-process notifications arrive (a LISTEN is established).
  [[nodiscard]] bool cross_listening() const noexcept;
  /// Poll interval of idle streams (slow when cross-process notifications arrive).
  [[nodiscard]] std::chrono::milliseconds idle_poll() const noexcept;

  std::shared_ptr<Database> database;
  EventsTableOptions options;
  Driver& driver;
  Dialect dialect;
  TableContext context;
  std::string quoted_table;
  std::string select_sql;
  SessionPool pool;

  /// Head cache: the deliverable events with begin < id <= end, shared by every stream at the
  /// head (head_cache.cpp).
  struct Cache {
    bool valid = false;
    std::int64_t begin = 0;
    std::int64_t end = 0;
    std::deque<Event> events;
    bool fetching = false;
    /// wake_generation when the last fetch started: a newer generation means a commit may not
    /// have been visible to it.
    std::uint64_t fetched_generation = 0;
    std::chrono::steady_clock::time_point next_poll{};
    std::chrono::milliseconds backoff{1};
  };
  /// Trail: the latest reads of streams behind the head cache (each one the exact, gap-safe
  /// result of a read: every deliverable event with from < id <= to), kept while several
  /// streams are behind the head, so that streams catching up side by side (the shards of a
  /// consumer, which each read the whole stream) share their reads instead of each querying every
  /// row.
  struct TrailRead {
    std::int64_t from = 0;
    std::int64_t to = 0;
    std::vector<Event> events;
  };
  std::deque<TrailRead> trail;
  std::size_t trail_events = 0;
  /// Where the reads of streams behind the head cache that are running now started (while
  /// several streams are behind the head): a stream about to make the same read waits for it
  /// instead.
  std::multiset<std::int64_t> trail_reads;
  /// Streams reading behind the head cache now (SqlStream::set_behind).
  int behind_streams = 0;
  /// The dialect's statement for inserting one event on a caller's transaction, built on first
  /// use (its text and, where the dialect prepares it, a statement name).
  struct SingleInsert {
    std::string sql;
    std::string name;
  };
  template <class Build>
  const SingleInsert& single_insert(Build&& build) {
    std::call_once(single_insert_once_, [&] { single_insert_ = build(); });
    return single_insert_;
  }

  // Guard the cache too; references into waker, so that streams read as they always did.
  std::shared_ptr<WakeState> waker = std::make_shared<WakeState>();
  std::mutex& mutex = waker->mutex;
  std::condition_variable_any& wake = waker->cv;
  std::uint64_t& wake_generation = waker->generation;
  Cache cache;
  /// The reader of the one fetch at the head (made by the first, used by whichever stream leads
  /// a fetch, Cache::fetching being the right to use it): N streams at the head share one
  /// borrowed session instead of each leading fetches on a connection of its own. Declared after
  /// `pool`, whose session it may hold.
  std::unique_ptr<Reader> head_reader;

 private:
  void ensure_cross_notifier();

  std::once_flag single_insert_once_;
  SingleInsert single_insert_;
  std::once_flag cross_once_;
  std::unique_ptr<CrossNotifier> cross_;
  std::atomic<CrossNotifier*> cross_ptr_{nullptr};
};

}  // namespace reflex::rsql::detail
