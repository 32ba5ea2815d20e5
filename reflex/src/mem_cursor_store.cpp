#include "reflex/mem_cursor_store.hpp"

namespace reflex {

std::string MemCursorStore::get(std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = cursors_.find(name);
  return it == cursors_.end() ? std::string() : it->second;
}

void MemCursorStore::set(std::string_view name, std::string_view cursor) {
  std::lock_guard lock(mu_);
  auto it = cursors_.find(name);
  if (it == cursors_.end()) {
    cursors_.emplace(std::string(name), std::string(cursor));
  } else {
    it->second.assign(cursor);
  }
}

std::map<std::string, std::string, std::less<>> MemCursorStore::snapshot() const {
  std::lock_guard lock(mu_);
  return cursors_;
}

}  // namespace reflex
