#pragma once
// The parts of the PostgreSQL dialect its driver (driver.cpp) puts together: the gap policy
// (gap_policy.cpp) and the cross-process wake-ups (notifier.cpp).

#include <functional>
#include <memory>
#include <string>

#include "driver.hpp"

namespace reflex::rsql::detail {

/// Opens a session on a standby's primary (DatabaseOptions::primary_dsn).
using PrimaryConnect = std::function<std::unique_ptr<Session>()>;

/// The gap policy of a PostgreSQL reader: holes resolved by the transaction-id horizon. On a
/// standby, decided on the primary `primary` connects to (`primary_shown` in messages); without
/// it a reader on a standby fails with a ConfigError.
[[nodiscard]] std::unique_ptr<GapPolicy> make_pg_gap_policy(const TableContext& table,
                                                            PrimaryConnect primary,
                                                            std::string primary_shown);

/// LISTEN/NOTIFY on channel `channel`, on sessions of their own and never inside a producer's
/// transaction: pokes are coalesced into NOTIFYs; notifications of other processes call
/// `on_wake` once listening. Behind a transaction pooler it only sends: a LISTEN would end with
/// the transaction that lent its session.
[[nodiscard]] std::unique_ptr<CrossNotifier> make_pg_cross_notifier(std::string conninfo,
                                                                    std::string redacted,
                                                                    std::string channel,
                                                                    PoolMode pool_mode,
                                                                    std::function<void()> on_wake);

}  // namespace reflex::rsql::detail
