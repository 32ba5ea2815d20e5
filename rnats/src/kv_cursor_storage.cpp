#include "kv_cursor_storage.hpp"

#include <algorithm>

#include "reflex/buffered_cursor_store.hpp"
#include "reflex/errors.hpp"
#include "reflex/rnats/errors.hpp"

namespace reflex::rnats::detail {

std::optional<std::string> KvCursorStorage::read(std::string_view name) {
  std::uint64_t writes = 0;
  {
    std::lock_guard lock(mutex_);
    if (auto it = known_.find(name); it != known_.end()) writes = it->second.writes;
  }
  auto entry = store_.get(escape_key(name));
  std::lock_guard lock(mutex_);
  Known& known = known_[std::string(name)];
  if (known.writes == writes) {
    if (!entry) {
      known.revision = 0;  // erased (by us or anyone): the next write creates it afresh
    } else if (entry->revision > known.newest) {
      known.revision = known.newest = entry->revision;
    }
  }
  if (!entry) return std::nullopt;
  return std::move(entry->value);
}

void KvCursorStorage::write(std::string_view name, std::string_view cursor) {
  const std::string key = escape_key(name);
  std::optional<std::uint64_t> revision;
  {
    std::lock_guard lock(mutex_);
    if (auto it = known_.find(name); it != known_.end()) revision = it->second.revision;
  }
  if (!revision) {
    // Never read by this storage: the write is based on what is there now, and must not undo
    // another runner's progress.
    const auto entry = store_.get(key);
    if (entry && moves_backwards(entry->value, cursor)) {
      throw CursorConflict(std::string(name), entry->value, std::string(cursor), describe());
    }
    revision = entry ? entry->revision : 0;
  }
  std::uint64_t written = 0;
  try {
    written = *revision == 0 ? store_.create(key, cursor) : store_.update(key, cursor, *revision);
  } catch (const RevisionConflict&) {
    // Another runner wrote since. The revision stays as it was, so every later write of this
    // cursor fails the same way until a read (get) learns the new one and the caller decides.
    std::string stored;
    try {
      if (auto entry = store_.get(key)) stored = std::move(entry->value);
    } catch (const Error&) {
      // Unknown: the conflict is what matters.
    }
    throw CursorConflict(std::string(name), stored, std::string(cursor), describe());
  }
  wrote(name, written);
}

void KvCursorStorage::force_write(std::string_view name, std::string_view cursor) {
  wrote(name, store_.put(escape_key(name), cursor));
}

bool KvCursorStorage::remove(std::string_view name) {
  const std::string key = escape_key(name);
  const auto entry = store_.get(key);
  if (entry) store_.erase(key);
  wrote(name, 0, entry ? entry->revision : 0);
  return entry.has_value();
}

std::vector<std::pair<std::string, std::string>> KvCursorStorage::list() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& key : store_.keys()) {
    // Erased between listing the keys and reading it: not a cursor any more.
    if (auto entry = store_.get(key)) out.emplace_back(unescape_key(key), std::move(entry->value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string KvCursorStorage::describe() const {
  return "KV bucket \"" + store_.bucket() + "\"";
}

void KvCursorStorage::wrote(std::string_view name, std::uint64_t revision, std::uint64_t replaced) {
  std::lock_guard lock(mutex_);
  Known& known = known_[std::string(name)];
  known.revision = revision;
  known.newest = std::max({known.newest, revision, replaced});
  ++known.writes;
}

}  // namespace reflex::rnats::detail
