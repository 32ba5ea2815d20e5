#include "reflex/rnats/kv_cursor_store.hpp"

#include <algorithm>
#include <condition_variable>
#include <thread>
#include <utility>
#include <vector>

#include "reflex/errors.hpp"
#include "reflex/event.hpp"
#include "reflex/rnats/errors.hpp"

namespace reflex::rnats {

struct KvCursorStore::Background {
  std::jthread thread;
};

namespace {

// True when both cursors are integers and `next` is below `current`.
bool backwards(std::string_view current, std::string_view next) {
  const auto a = parse_int64(current);
  const auto b = parse_int64(next);
  return a && b && *b < *a;
}

}  // namespace

namespace {

/// An existing bucket as it is (its history, TTL, replicas and limits are its owner's); a missing
/// one created with the defaults.
StateStore open_or_create(const Connection& connection, std::string_view bucket) {
  try {
    return StateStore::open(connection, bucket);
  } catch (const NotFound&) {
    return StateStore::ensure(connection, StoreConfig{.name = std::string(bucket)});
  }
}

}  // namespace

KvCursorStore::KvCursorStore(const Connection& connection, std::string_view bucket,
                             const KvCursorStoreOptions& options)
    : KvCursorStore(open_or_create(connection, bucket), options) {}

KvCursorStore::KvCursorStore(StateStore store, const KvCursorStoreOptions& options)
    : store_(std::move(store)), background_(std::make_unique<Background>()) {
  if (options.flush_interval.count() > 0) {
    background_->thread =
        std::jthread([this, every = options.flush_interval](std::stop_token stop) {
          std::mutex mu;
          std::condition_variable_any cv;
          for (;;) {
            {
              std::unique_lock lock(mu);
              cv.wait_for(lock, stop, every, [] { return false; });
            }
            if (stop.stop_requested()) return;
            try {
              flush();
            } catch (...) {
              std::lock_guard lock(mu_);
              background_error_ = std::current_exception();
            }
          }
        });
  }
}

KvCursorStore::~KvCursorStore() {
  if (background_ && background_->thread.joinable()) {
    background_->thread.request_stop();
    background_->thread.join();
  }
}

void KvCursorStore::rethrow_background_error() {
  // Caller holds mu_.
  if (background_error_) {
    auto error = std::exchange(background_error_, nullptr);
    std::rethrow_exception(error);
  }
}

std::string KvCursorStore::get(std::string_view name) {
  {
    std::lock_guard lock(mu_);
    if (auto it = slots_.find(name); it != slots_.end() && it->second.pending) {
      return *it->second.pending;
    }
  }
  const auto entry = store_.get(escape_key(name));
  std::lock_guard lock(mu_);
  Slot& slot = slots_[std::string(name)];
  if (slot.pending) return *slot.pending;  // set meanwhile
  slot.value = entry ? entry->value : std::string{};
  slot.revision = entry ? entry->revision : 0;
  slot.known = true;
  return slot.value;
}

void KvCursorStore::set(std::string_view name, std::string_view cursor) {
  std::lock_guard lock(mu_);
  rethrow_background_error();
  Slot& slot = slots_[std::string(name)];
  const std::string& current = slot.pending ? *slot.pending : slot.value;
  if (backwards(current, cursor)) {
    throw CursorError("cursor of consumer \"" + std::string(name) + "\" in KV bucket \"" +
                      store_.bucket() + "\" would move backwards from " + current + " to " +
                      std::string(cursor) +
                      "; use KvCursorStore::force_set to rewind deliberately");
  }
  if (!slot.pending && slot.known && current == cursor) return;
  slot.pending = std::string(cursor);
}

void KvCursorStore::write(const std::string& name, Slot snapshot, const std::string& cursor) {
  const std::string key = escape_key(name);
  if (!snapshot.known) {
    // Never read by this store: the write is based on what is there now.
    const auto entry = store_.get(key);
    snapshot.value = entry ? entry->value : std::string{};
    snapshot.revision = entry ? entry->revision : 0;
    if (backwards(snapshot.value, cursor)) {
      throw CursorError("cursor of consumer \"" + name + "\" in KV bucket \"" + store_.bucket() +
                        "\" is at " + snapshot.value + "; writing " + cursor +
                        " would move it backwards (another runner is ahead?)");
    }
  }
  std::uint64_t revision = 0;
  try {
    revision = snapshot.revision == 0 ? store_.create(key, cursor)
                                      : store_.update(key, cursor, snapshot.revision);
  } catch (const RevisionConflict&) {
    throw CursorConflict("cursor of consumer \"" + name + "\" in KV bucket \"" + store_.bucket() +
                         "\" was changed by someone else since revision " +
                         std::to_string(snapshot.revision) +
                         ": another runner of this consumer is active. Run one at a time.");
  }
  std::lock_guard lock(mu_);
  Slot& slot = slots_[name];
  slot.value = cursor;
  slot.revision = revision;
  slot.known = true;
  if (slot.pending && *slot.pending == cursor) slot.pending.reset();
}

void KvCursorStore::flush() {
  std::lock_guard flushing(flush_mu_);
  std::vector<std::tuple<std::string, Slot, std::string>> work;
  {
    std::lock_guard lock(mu_);
    rethrow_background_error();
    for (const auto& [name, slot] : slots_) {
      if (slot.pending) work.emplace_back(name, slot, *slot.pending);
    }
  }
  // Write every consumer's cursor; report the first failure after trying them all, keeping
  // failed ones pending.
  std::exception_ptr first;
  for (auto& [name, slot, cursor] : work) {
    try {
      write(name, std::move(slot), cursor);
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

void KvCursorStore::force_set(std::string_view name, std::string_view cursor) {
  std::lock_guard flushing(flush_mu_);
  const std::string key = escape_key(name);
  const std::uint64_t revision = store_.put(key, cursor);
  std::lock_guard lock(mu_);
  Slot& slot = slots_[std::string(name)];
  slot.value = cursor;
  slot.revision = revision;
  slot.known = true;
  slot.pending.reset();
}

std::vector<std::pair<std::string, std::string>> KvCursorStore::list() {
  flush();
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& key : store_.keys()) {
    // Erased between listing the keys and reading it: not a cursor any more.
    if (auto entry = store_.get(key)) out.emplace_back(unescape_key(key), std::move(entry->value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool KvCursorStore::remove(std::string_view name) {
  std::lock_guard flushing(flush_mu_);
  const std::string key = escape_key(name);
  const bool existed = store_.get(key).has_value();
  if (existed) store_.erase(key);
  std::lock_guard lock(mu_);
  Slot& slot = slots_[std::string(name)];
  slot.value.clear();
  slot.revision = 0;
  slot.known = true;
  slot.pending.reset();
  return existed;
}

}  // namespace reflex::rnats
