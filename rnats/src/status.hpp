#pragma once

#include <nats/nats.h>

#include <string>
#include <string_view>

namespace reflex::rnats::detail {

/// The text nats.c recorded for the calling thread's last failure with status `s` (without the
/// "(file.c:123): " location prefix), or the generic text of `s`.
[[nodiscard]] std::string error_text(natsStatus s);

/// Throws the reflex error matching a failed nats.c call: Unavailable for connection problems and
/// timeouts, RevisionConflict for wrong-last-sequence, NotFound, ConfigError for invalid
/// arguments, JetStreamError otherwise. `what` says what was attempted ("get stream info of X").
[[noreturn]] void throw_status(natsStatus s, std::string_view what, jsErrCode code = jsErrCode{});

/// Throws the reflex error for a message JetStream refused with API error `err_code` and its
/// `description` (an acknowledgement read by hand): RevisionConflict for a wrong last sequence or
/// message id, NotFound, JetStreamError otherwise.
[[noreturn]] void throw_refusal(std::string_view what, std::string_view description, int err_code);

inline void check(natsStatus s, std::string_view what, jsErrCode code = jsErrCode{}) {
  if (s != NATS_OK) throw_status(s, what, code);
}

/// True for statuses that mean "the server could not be reached or did not answer in time".
[[nodiscard]] bool is_unavailable(natsStatus s) noexcept;

}  // namespace reflex::rnats::detail
