#include "reflex/buffered_cursor_store.hpp"

#include <condition_variable>
#include <thread>

#include "reflex/errors.hpp"
#include "reflex/event.hpp"

namespace reflex {

bool moves_backwards(std::string_view current, std::string_view next) noexcept {
  const auto a = parse_int64(current);
  const auto b = parse_int64(next);
  return a && b && *b < *a;
}

struct BufferedCursorStore::Flusher {
  std::condition_variable_any wake;
  std::jthread thread;
};

BufferedCursorStore::BufferedCursorStore(std::unique_ptr<CursorStorage> storage,
                                         BufferedCursorStoreOptions options)
    : storage_(std::move(storage)), options_(std::move(options)) {
  if (!storage_) throw ConfigError("BufferedCursorStore needs a CursorStorage");
  if (options_.flush_interval.count() < 0) {
    throw ConfigError("BufferedCursorStoreOptions::flush_interval must not be negative");
  }
  if (options_.flush_interval.count() == 0) return;
  flusher_ = std::make_unique<Flusher>();
  flusher_->thread = std::jthread([this](std::stop_token stop) {
    std::mutex idle;
    std::unique_lock lock(idle);
    for (;;) {
      flusher_->wake.wait_for(lock, stop, options_.flush_interval, [] { return false; });
      if (stop.stop_requested()) return;
      if (auto error = write_pending()) {
        std::lock_guard guard(mutex_);
        background_error_ = std::move(error);
      }
    }
  });
}

BufferedCursorStore::~BufferedCursorStore() {
  if (flusher_) {
    flusher_->thread.request_stop();
    flusher_->thread.join();
  }
  (void)write_pending();  // documented: the last attempt's errors are swallowed
}

void BufferedCursorStore::rethrow_background_error() {
  // Caller holds mutex_.
  if (background_error_) std::rethrow_exception(std::exchange(background_error_, nullptr));
}

std::string BufferedCursorStore::get(std::string_view name) {
  std::uint64_t changes = 0;
  {
    std::lock_guard lock(mutex_);
    if (auto it = slots_.find(name); it != slots_.end()) {
      if (it->second.pending) return *it->second.pending;
      changes = it->second.changes;
    }
  }
  auto stored = storage_->read(name).value_or(std::string());
  std::lock_guard lock(mutex_);
  Slot& slot = slots_[std::string(name)];
  if (slot.pending) return *slot.pending;  // set meanwhile
  // A write that finished while we read knows better than our read.
  if (slot.changes == changes) slot.known = stored;
  return stored;
}

void BufferedCursorStore::set(std::string_view name, std::string_view cursor) {
  if (name.empty()) throw ConfigError("a cursor needs a consumer name");
  {
    std::lock_guard lock(mutex_);
    Slot& slot = slots_[std::string(name)];
    const std::optional<std::string>& last = slot.pending ? slot.pending : slot.known;
    if (last && moves_backwards(*last, cursor)) {
      throw CursorConflict(std::string(name), *last, std::string(cursor), storage_->describe());
    }
    const bool changed = slot.pending || slot.known != cursor;
    if (changed) slot.pending = std::string(cursor);
    // A failure of the background writer surfaces here, once. The cursor is recorded all the
    // same: its event was consumed, so a run that ends on this error resumes after it (from
    // this store, or from the storage once a flush writes it) instead of delivering it again.
    rethrow_background_error();
    if (!changed || flusher_) return;
  }
  // Unbuffered: write now, and report this write's failure here.
  if (auto error = write_pending()) std::rethrow_exception(error);
}

void BufferedCursorStore::flush() {
  {
    std::lock_guard lock(mutex_);
    rethrow_background_error();
  }
  if (auto error = write_pending()) std::rethrow_exception(error);
}

std::exception_ptr BufferedCursorStore::write_pending() noexcept {
  std::lock_guard writing(write_mutex_);
  std::vector<std::pair<std::string, std::string>> work;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, slot] : slots_) {
      if (slot.pending) work.emplace_back(name, *slot.pending);
    }
  }
  std::exception_ptr first;
  std::size_t written = 0;
  for (const auto& [name, cursor] : work) {
    try {
      storage_->write(name, cursor);
      ++written;
      std::lock_guard lock(mutex_);
      Slot& slot = slots_[name];
      slot.known = cursor;
      ++slot.changes;
      if (slot.pending == cursor) slot.pending.reset();  // else: set again meanwhile
    } catch (const CursorConflict& e) {
      // Refused for good: drop it, and remember what the storage holds so that the next set of a
      // cursor behind it is refused at once.
      if (!first) first = std::current_exception();
      std::lock_guard lock(mutex_);
      Slot& slot = slots_[name];
      slot.known = e.stored().empty() ? std::nullopt : std::optional<std::string>(e.stored());
      ++slot.changes;
      if (slot.pending == cursor) slot.pending.reset();
    } catch (...) {
      if (!first) first = std::current_exception();  // kept pending for the next round
    }
  }
  if (options_.on_written && written > 0) options_.on_written(written);
  return first;
}

std::vector<std::pair<std::string, std::string>> BufferedCursorStore::list() {
  flush();
  return storage_->list();
}

void BufferedCursorStore::force_set(std::string_view name, std::string_view cursor) {
  if (name.empty()) throw ConfigError("a cursor needs a consumer name");
  std::lock_guard writing(write_mutex_);
  storage_->force_write(name, cursor);
  std::lock_guard lock(mutex_);
  Slot& slot = slots_[std::string(name)];
  slot.known = std::string(cursor);
  ++slot.changes;
  slot.pending.reset();
}

bool BufferedCursorStore::remove(std::string_view name) {
  std::lock_guard writing(write_mutex_);
  const bool existed = storage_->remove(name);
  std::lock_guard lock(mutex_);
  Slot& slot = slots_[std::string(name)];
  slot.known = std::string();
  ++slot.changes;
  slot.pending.reset();
  return existed;
}

std::vector<std::string> BufferedCursorStore::pending() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& [name, slot] : slots_) {
    if (slot.pending) names.push_back(name);
  }
  return names;
}

}  // namespace reflex
