#pragma once

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

#include "reflex/export.hpp"

namespace reflex {

/// Root of every exception reflex throws. `retryable()` says whether calling again (re-running a
/// stream, reconnecting) can succeed without anyone fixing code, data or configuration.
///
/// Thread-safety: immutable after construction. Lifetime: a plain value type.
class REFLEX_CORE_EXPORT Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, bool retryable = false)
      : std::runtime_error(what), retryable_(retryable) {}

  /// True when the failure is transient (network, server restart, stop of a remote stream).
  [[nodiscard]] virtual bool retryable() const noexcept { return retryable_; }

 private:
  bool retryable_;
};

/// A `to_head` stream delivered everything available: the normal end of a backfill.
class REFLEX_CORE_EXPORT HeadReached final : public Error {
 public:
  HeadReached() : Error("the event stream has reached the current head") {}
  explicit HeadReached(const std::string& what) : Error(what) {}
};

/// The source is going away (for example a gRPC server shutting down). Reconnect and resume from
/// the cursor; nothing was lost.
class REFLEX_CORE_EXPORT Stopped final : public Error {
 public:
  Stopped() : Error("the event stream has been stopped by its source; reconnect", true) {}
  explicit Stopped(const std::string& what) : Error(what, true) {}
};

/// Thrown by blocking calls when the caller's `std::stop_token` was triggered.
class REFLEX_CORE_EXPORT Canceled final : public Error {
 public:
  Canceled() : Error("canceled: stop was requested") {}
  explicit Canceled(const std::string& what) : Error(what) {}
};

/// Invalid configuration or argument: a bad DSN, URI, identifier or option. Fix the input.
class REFLEX_CORE_EXPORT ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& what) : Error(what, false) {}
};

/// A server or resource could not be reached, or the connection was lost. Retrying may succeed.
class REFLEX_CORE_EXPORT Unavailable : public Error {
 public:
  explicit Unavailable(const std::string& what) : Error(what, true) {}
};

/// A cursor that the source or store cannot interpret (not an id of the table, out of range, ...).
class REFLEX_CORE_EXPORT CursorError : public Error {
 public:
  explicit CursorError(const std::string& what) : Error(what, false) {}
};

/// A cursor write was refused because another runner of the same consumer is active: the write
/// would move the stored cursor backwards, or the stored cursor changed since this store last
/// read or wrote it. The stored cursor is kept. Not retryable: stop this runner (run one runner
/// per consumer), or rewind on purpose with the store's force_set.
class REFLEX_CORE_EXPORT CursorConflict final : public CursorError {
 public:
  /// `store` names where the cursor lives, for the message (e.g. "table 'cursors'").
  CursorConflict(std::string consumer, std::string stored, std::string refused,
                 std::string_view store = {});
  /// The cursor `refused` of shard `shard` (its consumer name, e.g. "ledger_3_of_8") was not
  /// written because lease token `token` no longer holds the shard: another member took it after
  /// the lease expired. The owner must stop running the shard.
  [[nodiscard]] static CursorConflict fenced_out(std::string shard, std::uint64_t token,
                                                 std::string refused, std::string_view store);
  [[nodiscard]] const std::string& consumer() const noexcept { return consumer_; }
  /// The cursor the store holds ("" when unknown).
  [[nodiscard]] const std::string& stored() const noexcept { return stored_; }
  /// The cursor that was not written.
  [[nodiscard]] const std::string& refused() const noexcept { return refused_; }

 private:
  struct Message {
    std::string text;
  };
  CursorConflict(Message message, std::string consumer, std::string refused);

  std::string consumer_;
  std::string stored_;
  std::string refused_;
};

/// An event filter threw. `cause()` holds what it threw.
class REFLEX_CORE_EXPORT FilterError final : public Error {
 public:
  FilterError(const std::string& what, std::exception_ptr cause)
      : Error(what), cause_(std::move(cause)) {}
  [[nodiscard]] const std::exception_ptr& cause() const noexcept { return cause_; }

 private:
  std::exception_ptr cause_;
};

/// A consumer failed on an event. The message names the consumer, the event id and foreign id;
/// `cause()` holds the original exception and `retryable()` is the cause's.
class REFLEX_CORE_EXPORT ConsumeError final : public Error {
 public:
  ConsumeError(std::string consumer, std::string event_id, std::string foreign_id,
               std::exception_ptr cause);

  [[nodiscard]] bool retryable() const noexcept override;
  [[nodiscard]] const std::string& consumer() const noexcept { return consumer_; }
  [[nodiscard]] const std::string& event_id() const noexcept { return event_id_; }
  [[nodiscard]] const std::string& foreign_id() const noexcept { return foreign_id_; }
  [[nodiscard]] const std::exception_ptr& cause() const noexcept { return cause_; }

 private:
  std::string consumer_;
  std::string event_id_;
  std::string foreign_id_;
  std::exception_ptr cause_;
};

/// Visits `error` and then each wrapped cause (ConsumeError, FilterError, std::nested_exception).
/// Returns the first one of type E, or nullptr.
template <class E>
[[nodiscard]] const E* find_error(const std::exception& error) noexcept;

/// Same as find_error on the exception held by `error`; the pointer stays valid while `error`
/// lives.
template <class E>
[[nodiscard]] const E* find_error(const std::exception_ptr& error) noexcept;

/// Errors of normal operation: cancellation (stop requested) and a source that stopped (Stopped).
[[nodiscard]] REFLEX_CORE_EXPORT bool is_expected(const std::exception& error) noexcept;
[[nodiscard]] REFLEX_CORE_EXPORT bool is_expected(const std::exception_ptr& error) noexcept;

/// True when the error (or the reflex::Error it wraps) says retrying may succeed.
[[nodiscard]] REFLEX_CORE_EXPORT bool is_retryable(const std::exception& error) noexcept;
[[nodiscard]] REFLEX_CORE_EXPORT bool is_retryable(const std::exception_ptr& error) noexcept;

namespace detail {
/// The exception wrapped by `error`, if any (ConsumeError, FilterError or std::nested_exception).
[[nodiscard]] REFLEX_CORE_EXPORT std::exception_ptr cause_of(const std::exception& error) noexcept;
}  // namespace detail

template <class E>
const E* find_error(const std::exception_ptr& error) noexcept {
  if (!error) return nullptr;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    // The exception object is owned by `error`, so the address outlives this handler.
    return find_error<E>(e);
  } catch (...) {
  }
  return nullptr;
}

template <class E>
const E* find_error(const std::exception& error) noexcept {
  if (const auto* match = dynamic_cast<const E*>(&error)) return match;
  return find_error<E>(detail::cause_of(error));
}

}  // namespace reflex
