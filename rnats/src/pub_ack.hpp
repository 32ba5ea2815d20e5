#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace reflex::rnats::detail {

/// JetStream's answer to a publish, as the relay reads it from its own inbox.
struct PubAck {
  /// Why JetStream refused the message (its API error).
  struct Refusal {
    /// HTTP-like status (400, 503, ...).
    int code = 0;
    /// JetStream's error code (10071: wrong last sequence, ...); 0 when it sent none.
    int err_code = 0;
    std::string description{};
  };

  std::string stream{};
  std::uint64_t sequence = 0;
  /// The message id was seen within the duplicate window; `sequence` is the original's.
  bool duplicate = false;
  /// Set when the message was refused; the other fields are then unset.
  std::optional<Refusal> error{};
};

/// Parses an acknowledgement: `{"stream":…,"seq":…,"duplicate":…}` or
/// `{"error":{"code":…,"err_code":…,"description":…}}`. Throws reflex::Error saying what is wrong
/// and quoting the body when it is anything else (not JSON, no sequence, a field of another type).
///
/// Thread-safety: a pure function.
[[nodiscard]] PubAck parse_pub_ack(std::string_view body);

}  // namespace reflex::rnats::detail
