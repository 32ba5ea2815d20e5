#pragma once

#include <cstdint>
#include <string>

#include "reflex/errors.hpp"
#include "reflex/rnats/export.hpp"

namespace reflex::rnats {

/// A NATS or JetStream request failed for a reason without a more specific type below.
/// `status()` is the nats.c status code and `code()` the JetStream error code (0 when the server
/// sent none), for logs and for callers that need to tell server errors apart.
///
/// Thread-safety: immutable after construction. Lifetime: a plain value type.
class REFLEX_RNATS_EXPORT JetStreamError final : public Error {
 public:
  JetStreamError(const std::string& what, int status, int code, bool retryable)
      : Error(what, retryable), status_(status), code_(code) {}

  [[nodiscard]] int status() const noexcept { return status_; }
  [[nodiscard]] int code() const noexcept { return code_; }

 private:
  int status_;
  int code_;
};

/// Optimistic concurrency lost: a KV revision, an expected stream sequence or an expected subject
/// sequence did not match what the server holds (JetStream errors 10070/10071). Not retryable as
/// is: read the current state again, then decide.
///
/// Thread-safety: immutable. Lifetime: a plain value type.
class REFLEX_RNATS_EXPORT RevisionConflict final : public Error {
 public:
  explicit RevisionConflict(const std::string& what) : Error(what, false) {}
};

/// A publish reached no stream: no JetStream stream is bound to the subject.
///
/// Thread-safety: immutable. Lifetime: a plain value type.
class REFLEX_RNATS_EXPORT NoStreamForSubject final : public ConfigError {
 public:
  explicit NoStreamForSubject(const std::string& what) : ConfigError(what) {}
};

/// A stream, consumer, bucket or message that must exist does not.
///
/// Thread-safety: immutable. Lifetime: a plain value type.
class REFLEX_RNATS_EXPORT NotFound final : public ConfigError {
 public:
  explicit NotFound(const std::string& what) : ConfigError(what) {}
};

}  // namespace reflex::rnats
