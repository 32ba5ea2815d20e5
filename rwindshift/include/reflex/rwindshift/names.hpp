#pragma once

#include <string_view>

#include "reflex/rwindshift/export.hpp"

// The names windshift-server accepts, checked before anything reaches NATS (NATS itself accepts
// more, and a name one server takes must be one every windshift client can use).

namespace reflex::rwindshift {

/// A subject: tokens of letters, digits, '_' and '-' separated by single '.', no '.' first or
/// last. With `wildcards`, a token may be '*' (one token) or, last, '>' (the rest).
[[nodiscard]] REFLEX_RWINDSHIFT_EXPORT bool is_valid_subject(std::string_view subject,
                                                             bool wildcards);
/// A stream, consumer or store name: letters, digits, '_' and '-', not empty.
[[nodiscard]] REFLEX_RWINDSHIFT_EXPORT bool is_valid_name(std::string_view name);
/// A state key: a subject without wildcards.
[[nodiscard]] inline bool is_valid_key(std::string_view key) {
  return is_valid_subject(key, false);
}

}  // namespace reflex::rwindshift
