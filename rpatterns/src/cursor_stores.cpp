#include "reflex/rpatterns/cursor_stores.hpp"

#include "reflex/errors.hpp"

namespace reflex::rpatterns {

ReadThroughCursorStore::ReadThroughCursorStore(std::shared_ptr<CursorStore> primary,
                                               std::shared_ptr<CursorStore> fallback)
    : primary_(std::move(primary)), fallback_(std::move(fallback)) {
  if (!primary_) throw ConfigError("ReadThroughCursorStore: the primary store is null");
  if (!fallback_) throw ConfigError("ReadThroughCursorStore: the fallback store is null");
}

std::string ReadThroughCursorStore::get(std::string_view name) {
  std::string cursor = primary_->get(name);
  if (!cursor.empty()) return cursor;
  cursor = fallback_->get(name);
  if (cursor.empty()) return cursor;
  // Seed the primary durably, so the fallback is read once and can then be retired.
  primary_->set(name, cursor);
  primary_->flush();
  return cursor;
}

void ReadThroughCursorStore::set(std::string_view name, std::string_view cursor) {
  primary_->set(name, cursor);
}

void ReadThroughCursorStore::flush() {
  primary_->flush();
}

}  // namespace reflex::rpatterns
