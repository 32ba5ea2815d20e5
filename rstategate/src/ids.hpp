#pragma once
// Times of what the services make (ids: reflex::random_uuid).

#include <cstdint>

namespace reflex::rstategate::detail {

/// The wall-clock time in nanoseconds since the epoch.
[[nodiscard]] std::int64_t now_ns();

}  // namespace reflex::rstategate::detail
