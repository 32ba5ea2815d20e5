#include "head_cache.hpp"

#include <algorithm>

#include "reflex/errors.hpp"
#include "reflex/wait.hpp"

namespace reflex::rsql::detail {

namespace {
using Clock = std::chrono::steady_clock;
/// The longest wait between two reads while a hole holds the stream back.
constexpr std::chrono::milliseconds kMaxGapBackoff{100};
/// The most reads the trail keeps (each up to a batch).
constexpr std::size_t kMaxTrailReads = 64;
/// The most events a stream copies at once from memory (the head cache or the trail): a copy
/// costs no query, so a small one costs only a lock, and each stream then holds a few KiB of
/// events rather than a batch's worth (a thousand followers of a table behind the head would
/// otherwise each keep up to batch_size copies).
constexpr std::size_t kCopyChunk = 64;

/// Empties `buffer` for a copy from memory, giving back what a batch read of its own left it.
void ready_for_copy(std::vector<Event>& buffer) {
  buffer.clear();
  if (buffer.capacity() > 2 * kCopyChunk) std::vector<Event>().swap(buffer);
}
}  // namespace

SqlStream::SqlStream(std::shared_ptr<EventsTableImpl> table, std::stop_token stop,
                     std::int64_t position, const StreamOptions& options)
    : table_(std::move(table)),
      stop_(std::move(stop)),
      options_(options),
      position_(position),
      reader_(table_) {}

SqlStream::~SqlStream() {
  std::lock_guard lock(table_->mutex);
  set_behind(false);
}

void SqlStream::set_behind(bool behind) {
  if (behind == behind_) return;
  behind_ = behind;
  auto& t = *table_;
  if (behind) {
    ++t.behind_streams;
  } else if (--t.behind_streams <= 1) {
    // Alone behind the head (or nobody): no one to share reads with.
    t.trail.clear();
    t.trail_events = 0;
  }
}

Event SqlStream::recv() {
  while (next_ >= buffer_.size()) {
    buffer_.clear();
    next_ = 0;
    fill();
  }
  Event event = std::move(buffer_[next_++]);
  if (options_.lag.count() > 0) {
    const auto due = event.timestamp + options_.lag;
    if (due > std::chrono::system_clock::now() && !sleep_until(stop_, due)) {
      throw Canceled();
    }
  }
  return event;
}

std::optional<std::uint64_t> SqlStream::remaining() const {
  return static_cast<std::uint64_t>(buffer_.size() - next_);
}

void SqlStream::fill() {
  auto& t = *table_;
  auto& c = t.cache;
  const std::size_t batch = t.options.batch_size;
  std::unique_lock lock(t.mutex);
  // to_head: HeadReached once a read that started after we got here found nothing more and
  // was not held back by a hole (a hole means events exist beyond it: wait for them).
  bool at_head = false;
  bool held_by_hole = false;
  for (;;) {
    if (stop_.stop_requested()) throw Canceled();
    // Served by the cache and its fetches (the table's reader): a session this stream borrowed
    // to catch up goes back to the pool.
    if (c.valid && position_ >= c.begin && position_ <= c.end) reader_.release();
    if (c.valid && position_ >= c.begin && position_ < c.end) {
      set_behind(false);
      copy_from_cache(std::min(batch, kCopyChunk));
      t.context.metrics->on_cache(true);
      return;
    }
    if (c.valid && position_ == c.end) {
      if (at_head && options_.to_head) throw HeadReached();
      if (c.fetching) {
        t.wake.wait(lock, stop_, [&] { return !c.fetching; });
        continue;
      }
      if ((!options_.to_head || held_by_hole) && c.fetched_generation == t.wake_generation &&
          Clock::now() < c.next_poll) {
        // By value: wait_until reads the deadline while the lock is released, and the leader
        // of the next fetch rewrites c.next_poll.
        const auto generation = t.wake_generation;
        const auto deadline = c.next_poll;
        t.wake.wait_until(lock, stop_, deadline, [&] {
          return t.wake_generation != generation || c.fetching || position_ != c.end || !c.valid;
        });
        continue;
      }
      const ReadOutcome outcome = fetch(lock);
      at_head = outcome == ReadOutcome::at_head;
      held_by_hole = outcome == ReadOutcome::held_by_hole;
      continue;
    }
    // Outside the cache: a read another stream made here serves us too; else read on our own
    // connection.
    set_behind(true);
    if (copy_from_trail(std::min(batch, kCopyChunk))) {
      t.context.metrics->on_cache(true);
      if (!buffer_.empty()) return;
      continue;
    }
    // Another stream is making that read right now: wait for it rather than make it too.
    if (trail_read_near(batch)) {
      t.wake.wait(lock, stop_, [&] { return !trail_read_near(batch); });
      continue;
    }
    // Kept for others only while another stream is behind the head too: a lone stream catching
    // up copies nothing.
    const bool shared = t.behind_streams > 1;
    const std::int64_t from = position_;
    if (shared) t.trail_reads.insert(from);
    lock.unlock();
    t.context.metrics->on_cache(false);
    ReadResult r;
    try {
      r = reader_.read(position_, batch);
    } catch (...) {
      if (shared) {
        lock.lock();
        t.trail_reads.erase(t.trail_reads.find(from));
        t.wake.notify_all();
      }
      throw;
    }
    lock.lock();
    if (shared) {
      t.trail_reads.erase(t.trail_reads.find(from));
      // The read's events move into the trail, and this stream copies its chunk from there like
      // the others (a read no larger than the trail's bound stays in it as its newest): no
      // second copy of the batch, and no stream holds a whole batch of its own.
      const bool moved = r.position != position_ && r.events.size() <= t.options.cache_size;
      if (moved) keep_in_trail(position_, std::move(r.events), r.position);
      t.wake.notify_all();
      if (moved) {
        // (Were it gone from the trail, position_ is where it was: the next turn reads again.)
        if (copy_from_trail(std::min(batch, kCopyChunk)) && !buffer_.empty()) return;
        continue;
      }
      // Else a read larger than the trail's bound, which would leave it at once: kept by no one.
    }
    if (r.position != position_) {
      position_ = r.position;
      buffer_ = std::move(r.events);
      if (!buffer_.empty()) return;
      continue;
    }
    if (options_.to_head && !r.blocked) throw HeadReached();
    held_by_hole = r.blocked;
    set_behind(false);
    reader_.release();  // the cache seated here fetches with the table's reader
    // Nothing after us (or a hole first): we are at the head. Seat the cache here unless it is
    // in use ahead.
    if (!c.fetching && (!c.valid || c.end < position_ || position_ < c.begin)) {
      c.valid = true;
      c.begin = c.end = position_;
      c.events.clear();
      c.fetched_generation = t.wake_generation;
      schedule(c, r, t, false);
    } else if (c.valid && position_ > c.end) {
      // Another stream is fetching behind us; wait for it, then look again.
      t.wake.wait(lock, stop_, [&] { return !c.fetching; });
    }
  }
}

/// Leads one shared fetch at the head.
SqlStream::ReadOutcome SqlStream::fetch(std::unique_lock<std::mutex>& lock) {
  auto& t = *table_;
  auto& c = t.cache;
  c.fetching = true;
  c.fetched_generation = t.wake_generation;
  const std::int64_t from = c.end;
  if (!t.head_reader) t.head_reader = std::make_unique<Reader>(t);
  Reader& reader = *t.head_reader;
  lock.unlock();
  ReadResult r;
  try {
    r = reader.read(from, t.options.batch_size);
  } catch (...) {
    lock.lock();
    c.fetching = false;
    c.next_poll = Clock::now() + c.backoff;
    t.wake.notify_all();
    throw;
  }
  lock.lock();
  c.fetching = false;
  const bool nothing = r.position == from;
  if (c.valid && c.end == from) {
    for (auto& e : r.events) c.events.push_back(std::move(e));
    c.end = r.position;
    while (c.events.size() > t.options.cache_size) {
      c.begin = c.events.front().id_int();
      c.events.pop_front();
    }
  }
  schedule(c, r, t, !nothing);
  t.wake.notify_all();
  if (!nothing) return ReadOutcome::progressed;
  return r.blocked ? ReadOutcome::held_by_hole : ReadOutcome::at_head;
}

/// When the next poll at the head may run: at once after a full batch, soon while a hole
/// blocks, backing off to the idle interval while nothing comes.
void SqlStream::schedule(EventsTableImpl::Cache& c, const ReadResult& r, EventsTableImpl& t,
                         bool progressed) {
  using std::chrono::milliseconds;
  const auto now = Clock::now();
  if (r.full) {
    c.backoff = milliseconds(1);
    c.next_poll = now;
  } else if (r.blocked) {
    c.backoff = std::min(std::max(c.backoff * 2, milliseconds(1)), kMaxGapBackoff);
    c.next_poll = now + c.backoff;
    // A hole in its grace is probed when the grace ends, if no commit has filled it by then.
    if (r.retry_at) c.next_poll = std::min(c.next_poll, std::max(*r.retry_at, now));
  } else if (progressed) {
    // With cross-process notifications every commit announces itself: wait for the next one,
    // the idle poll staying as the safety net (no empty polls between events). Without them,
    // poll again soon while events flow.
    c.backoff = t.cross_listening() ? t.idle_poll() : milliseconds(1);
    c.next_poll = now + c.backoff;
  } else {
    c.backoff = std::min(c.backoff * 2, t.idle_poll());
    c.next_poll = now + c.backoff;
  }
}

void SqlStream::copy_from_cache(std::size_t batch) {
  auto& c = table_->cache;
  auto it = std::upper_bound(c.events.begin(), c.events.end(), position_,
                             [](std::int64_t pos, const Event& e) { return pos < e.id_int(); });
  ready_for_copy(buffer_);
  buffer_.reserve(std::min<std::size_t>(batch, static_cast<std::size_t>(c.events.end() - it)));
  for (; it != c.events.end() && buffer_.size() < batch; ++it) buffer_.push_back(*it);
  position_ = it == c.events.end() ? c.end : buffer_.back().id_int();
}

bool SqlStream::trail_read_near(std::size_t batch) const {
  // A read from `from` returns about `batch` ids after it: it will likely cover our position.
  const auto& reads = table_->trail_reads;
  auto it = reads.upper_bound(position_);
  if (it == reads.begin()) return false;
  --it;
  return position_ < *it + static_cast<std::int64_t>(batch);
}

bool SqlStream::copy_from_trail(std::size_t batch) {
  auto& t = *table_;
  for (auto read = t.trail.rbegin(); read != t.trail.rend(); ++read) {
    if (position_ < read->from || position_ >= read->to) continue;
    ready_for_copy(buffer_);
    auto it = std::upper_bound(read->events.begin(), read->events.end(), position_,
                               [](std::int64_t pos, const Event& e) { return pos < e.id_int(); });
    for (; it != read->events.end() && buffer_.size() < batch; ++it) buffer_.push_back(*it);
    position_ = it == read->events.end() ? read->to : buffer_.back().id_int();
    return true;
  }
  return false;
}

void SqlStream::keep_in_trail(std::int64_t from, std::vector<Event> events, std::int64_t to) {
  auto& t = *table_;
  t.trail_events += events.size();
  t.trail.push_back({.from = from, .to = to, .events = std::move(events)});
  // As much as the head cache holds, and a bounded number of reads.
  while (!t.trail.empty() &&
         (t.trail_events > t.options.cache_size || t.trail.size() > kMaxTrailReads)) {
    t.trail_events -= t.trail.front().events.size();
    t.trail.pop_front();
  }
}

}  // namespace reflex::rsql::detail
