#pragma once
// The stream of one consumer of an events table. Streams at the head share one cache of the
// newest events and one fetch at a time, so N local consumers of a table cost about one query
// per poll; a stream behind the cache reads on a session it borrows from the table's pool while
// it catches up (reader.hpp).

#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>

#include "events_table_impl.hpp"
#include "reader.hpp"
#include "reflex/stream.hpp"

namespace reflex::rsql::detail {

/// Thread-safety: one thread at a time (a StreamClient's). Lifetime: keeps its table alive.
class SqlStream final : public StreamClient {
 public:
  SqlStream(std::shared_ptr<EventsTableImpl> table, std::stop_token stop, std::int64_t position,
            const StreamOptions& options);

  ~SqlStream() override;
  SqlStream(const SqlStream&) = delete;
  SqlStream& operator=(const SqlStream&) = delete;

  Event recv() override;
  [[nodiscard]] std::optional<std::uint64_t> remaining() const override;

 private:
  enum class ReadOutcome { progressed, at_head, held_by_hole };

  void fill();
  ReadOutcome fetch(std::unique_lock<std::mutex>& lock);
  static void schedule(EventsTableImpl::Cache& c, const ReadResult& r, EventsTableImpl& t,
                       bool progressed);
  void copy_from_cache(std::size_t batch);
  bool copy_from_trail(std::size_t batch);
  [[nodiscard]] bool trail_read_near(std::size_t batch) const;
  /// Counts this stream among those reading behind the head cache (the trail's users). Call with
  /// the table's mutex held.
  void set_behind(bool behind);
  void keep_in_trail(std::int64_t from, std::vector<Event> events, std::int64_t to);

  std::shared_ptr<EventsTableImpl> table_;
  std::stop_token stop_;
  StreamOptions options_;
  std::int64_t position_;
  Reader reader_;
  std::vector<Event> buffer_;
  std::size_t next_ = 0;
  bool behind_ = false;
};

}  // namespace reflex::rsql::detail
