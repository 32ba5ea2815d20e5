#pragma once
/// The errors of reflex::rstate besides rsql's (ConfigError for bad input, SchemaError for a
/// missing table, DatabaseError): each says what was wrong on one line.

#include <cstdint>
#include <string>

#include "reflex/errors.hpp"
#include "reflex/rstate/export.hpp"

namespace reflex::rstate {

/// No such entity, or no such event of it. Not retryable.
class REFLEX_RSTATE_EXPORT NotFound final : public Error {
 public:
  explicit NotFound(const std::string& what) : Error(what) {}
};

/// A change's expected version did not match the entity's (Change::expected_version): nothing
/// was written. Read the entity again and decide. Not retryable as it is.
class REFLEX_RSTATE_EXPORT VersionConflict final : public Error {
 public:
  VersionConflict(const std::string& what, std::int64_t expected, std::int64_t actual)
      : Error(what), expected_(expected), actual_(actual) {}
  [[nodiscard]] std::int64_t expected() const noexcept { return expected_; }
  /// The entity's version (0: it does not exist).
  [[nodiscard]] std::int64_t actual() const noexcept { return actual_; }

 private:
  std::int64_t expected_;
  std::int64_t actual_;
};

}  // namespace reflex::rstate
