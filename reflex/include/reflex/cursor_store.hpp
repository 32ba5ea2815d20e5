#pragma once

#include <string>
#include <string_view>

#include "reflex/export.hpp"

namespace reflex {

/// Persists one cursor per consumer name. `run` calls get once, set after every consumed event and
/// flush on every exit, so stores may buffer sets and write them in flush (or periodically).
///
/// Thread-safety: implementations shipped with reflex are safe to share between threads and runs.
/// Lifetime: must outlive every run using it.
class REFLEX_CORE_EXPORT CursorStore {
 public:
  virtual ~CursorStore() = default;

  /// The stored cursor of `name`, or "" when there is none. Sees every earlier set.
  [[nodiscard]] virtual std::string get(std::string_view name) = 0;
  /// Records `cursor` for `name`; may be buffered until flush.
  virtual void set(std::string_view name, std::string_view cursor) = 0;
  /// Makes every buffered set durable. A failed flush keeps what it could not write for the next.
  virtual void flush() = 0;
};

}  // namespace reflex
