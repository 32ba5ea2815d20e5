#pragma once

#include <chrono>
#include <stop_token>

#include "reflex/export.hpp"

namespace reflex {

/// Sleeps for `duration` or until stop is requested, whichever comes first. Returns false when it
/// was woken by the stop request.
REFLEX_CORE_EXPORT bool sleep_for(std::stop_token stop, std::chrono::nanoseconds duration);

/// Sleeps until `deadline` or until stop is requested. Returns false when woken by the stop
/// request.
REFLEX_CORE_EXPORT bool sleep_until(std::stop_token stop,
                                    std::chrono::system_clock::time_point deadline);

}  // namespace reflex
