#pragma once
// A missing table, said as what to run: the one rethrow every rstate table uses.

#include <chrono>
#include <string_view>

namespace reflex::rstate::detail {

/// Rethrows the exception being handled; a DatabaseError of a missing table or column becomes a
/// SchemaError naming `tables` ("the cache table 'c'") and the DDL helper and `reflexctl schema`
/// flag that create them. Call inside a catch block.
[[noreturn]] void rethrow_with_hint(std::string_view tables, std::string_view ddl_helper,
                                    std::string_view reflexctl_flag);

/// Nanoseconds since the Unix epoch of `time`.
[[nodiscard]] long long to_ns(std::chrono::system_clock::time_point time);

}  // namespace reflex::rstate::detail
