#pragma once

#include <string>

#include "reflex/errors.hpp"
#include "reflex/rgrpc/export.hpp"

namespace reflex::rgrpc {

/// The name of gRPC status code `code` as the gRPC spec spells it ("OK", "NOT_FOUND", ...),
/// "UNKNOWN" for a number outside 0..16: for messages, logs and metric labels.
[[nodiscard]] REFLEX_RGRPC_EXPORT const char* status_code_name(int code) noexcept;

/// The server refused the call's credentials (gRPC UNAUTHENTICATED or PERMISSION_DENIED): the
/// bearer token or client certificate is missing or wrong. Not retryable: fix the configuration.
///
/// Thread-safety: immutable. Lifetime: a plain value type.
class REFLEX_RGRPC_EXPORT AuthError final : public ConfigError {
 public:
  AuthError(const std::string& what, int code) : ConfigError(what), code_(code) {}
  /// The gRPC status code (16 UNAUTHENTICATED or 7 PERMISSION_DENIED).
  [[nodiscard]] int code() const noexcept { return code_; }

 private:
  int code_;
};

/// A stream ended with a gRPC status that has no more specific reflex error (for example
/// INTERNAL or UNKNOWN from the server's source). `code()` is the gRPC status code; `retryable()`
/// says whether reconnecting may help (UNKNOWN: yes, it is what servers send for failures of their
/// own dependencies, except a Go reflex source's bad cursor, which is a CursorError; INTERNAL,
/// DATA_LOSS, FAILED_PRECONDITION, ...: no).
///
/// Thread-safety: immutable. Lifetime: a plain value type.
class REFLEX_RGRPC_EXPORT RemoteError final : public Error {
 public:
  RemoteError(const std::string& what, int code, bool retryable)
      : Error(what, retryable), code_(code) {}
  [[nodiscard]] int code() const noexcept { return code_; }

 private:
  int code_;
};

}  // namespace reflex::rgrpc
