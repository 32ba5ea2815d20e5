#pragma once
/// Random (version 4) UUIDs: the event and message ids of reflex::rstate and the stategate
/// services, in the canonical lowercase 8-4-4-4-12 form.

#include <string>
#include <string_view>

#include "reflex/export.hpp"

namespace reflex {

/// A new version 4 UUID ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", y one of 8, 9, a, b) from 122
/// random bits: a generator per thread, seeded from std::random_device. Thread-safe, no lock.
[[nodiscard]] REFLEX_CORE_EXPORT std::string random_uuid();

/// Whether `text` is a version 4 UUID in the canonical form (either case), as stategate's
/// `uuid_ver: 4` rule asks.
[[nodiscard]] REFLEX_CORE_EXPORT bool is_uuid_v4(std::string_view text) noexcept;

}  // namespace reflex
