#pragma once
// Ids and times of what the services make.

#include <cstdint>
#include <string>

namespace reflex::rstategate::detail {

/// A random (version 4, RFC 4122 variant) UUID in its canonical lower-case text form.
[[nodiscard]] std::string uuid_v4();

/// The wall-clock time in nanoseconds since the epoch.
[[nodiscard]] std::int64_t now_ns();

}  // namespace reflex::rstategate::detail
