#pragma once
// stategate's validator options, checked before anything is done: a name matches `^\S+$` (not
// empty, no white space), a message field marked msg_exists is present. Each check gives the
// one-line message of INVALID_ARGUMENT, naming the field, or "" when the value is fine.

#include <google/protobuf/timestamp.pb.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "reflex/rstategate/backends.hpp"

namespace reflex::rstategate::detail {

/// "" when `value` is a name (rstate::is_name: stategate's `^\S+$`), else "<field>: must not be
/// empty or contain white space (got
/// '<value>')".
[[nodiscard]] std::string check_name(std::string_view field, std::string_view value);

/// A name of a Stream pattern: a name that is "*" (any) or holds no '*'.
[[nodiscard]] std::string check_pattern(std::string_view field, std::string_view value);

/// "" when present, else "<field>: is required".
[[nodiscard]] std::string check_present(std::string_view field, bool present);

/// An `exp` field: unset or zero is never; a valid timestamp in the future is that time. Sets
/// `expires`; returns the message for a malformed or past time.
[[nodiscard]] std::string check_expiry(std::string_view field, bool present,
                                       const google::protobuf::Timestamp& exp,
                                       std::optional<Clock::time_point>& expires);

}  // namespace reflex::rstategate::detail
