#pragma once
// The parts of the MariaDB/MySQL dialect its driver (driver.cpp) puts together besides sessions:
// the gap policy (gap_policy.cpp).

#include <memory>

#include "driver.hpp"

namespace reflex::rsql::detail {

/// The gap policy of a MariaDB/MySQL reader: holes filled with no-op rows under InnoDB's locks.
[[nodiscard]] std::unique_ptr<GapPolicy> make_mysql_gap_policy(const TableContext& table);

}  // namespace reflex::rsql::detail
