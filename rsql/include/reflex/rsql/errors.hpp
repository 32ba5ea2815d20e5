#pragma once

#include <string>

#include "reflex/errors.hpp"
#include "reflex/rsql/export.hpp"

namespace reflex::rsql {

/// What went wrong in a database call, as far as a caller can act on it.
enum class DatabaseErrorKind {
  /// The server is unreachable or the connection broke (retry later).
  connection,
  /// A table named in the statement does not exist.
  undefined_table,
  /// A column named in the statement does not exist.
  undefined_column,
  /// A unique or primary key constraint rejected a row.
  unique_violation,
  /// The server rejected a value (too long, wrong type, out of range).
  data,
  /// A deadlock or serialization failure: the transaction may succeed when retried.
  transient,
  /// Anything else.
  other,
};

/// An error reported by the database or its driver. retryable() is true for connection and
/// transient failures.
class REFLEX_RSQL_EXPORT DatabaseError : public Error {
 public:
  DatabaseError(DatabaseErrorKind kind, const std::string& what)
      : Error(what, kind == DatabaseErrorKind::connection || kind == DatabaseErrorKind::transient),
        kind_(kind) {}
  [[nodiscard]] DatabaseErrorKind kind() const noexcept { return kind_; }

 private:
  DatabaseErrorKind kind_;
};

/// A table reflex needs does not exist, or lacks a column reflex needs. The message names the
/// table and shows how to create it (the schema helpers). Not retryable.
class REFLEX_RSQL_EXPORT SchemaError final : public ConfigError {
 public:
  explicit SchemaError(const std::string& what) : ConfigError(what) {}
};

}  // namespace reflex::rsql
