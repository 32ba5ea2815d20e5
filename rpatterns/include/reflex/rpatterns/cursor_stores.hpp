#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "reflex/cursor_store.hpp"
#include "reflex/rpatterns/export.hpp"

namespace reflex::rpatterns {

/// Reads from `primary`, falling back to `fallback` for consumers the primary has no cursor for;
/// a cursor found there is written to the primary (and flushed), so later reads need no fallback.
/// Sets and flushes go to the primary only.
///
/// Uses: migrating cursors from an old store (old = fallback), or seeding a consumer's start
/// (fallback = a reflex::MemCursorStore built with a seed map).
///
/// Thread-safety: as the two stores. Lifetime: shares ownership of both stores.
class REFLEX_RPATTERNS_EXPORT ReadThroughCursorStore final : public CursorStore {
 public:
  /// Throws ConfigError when a store is null.
  ReadThroughCursorStore(std::shared_ptr<CursorStore> primary,
                         std::shared_ptr<CursorStore> fallback);

  [[nodiscard]] std::string get(std::string_view name) override;
  void set(std::string_view name, std::string_view cursor) override;
  void flush() override;

 private:
  std::shared_ptr<CursorStore> primary_;
  std::shared_ptr<CursorStore> fallback_;
};

}  // namespace reflex::rpatterns
