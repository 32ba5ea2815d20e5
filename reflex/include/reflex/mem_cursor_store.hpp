#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "reflex/cursor_store.hpp"
#include "reflex/export.hpp"

namespace reflex {

/// Cursors in memory, optionally seeded. Flush has nothing to write.
///
/// Thread-safety: every member may be called from any thread.
class REFLEX_CORE_EXPORT MemCursorStore final : public CursorStore {
 public:
  MemCursorStore() = default;
  explicit MemCursorStore(std::map<std::string, std::string, std::less<>> seed)
      : cursors_(std::move(seed)) {}

  [[nodiscard]] std::string get(std::string_view name) override;
  void set(std::string_view name, std::string_view cursor) override;
  void flush() override {}

  /// A copy of every cursor.
  [[nodiscard]] std::map<std::string, std::string, std::less<>> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string, std::less<>> cursors_;
};

}  // namespace reflex
