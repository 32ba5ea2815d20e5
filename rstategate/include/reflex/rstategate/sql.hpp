#pragma once

#include <memory>

#include "reflex/rsql/database.hpp"
#include "reflex/rstate/schema.hpp"
#include "reflex/rstategate/backends.hpp"
#include "reflex/rstategate/export.hpp"

// The cache and mutex backends on an SQL database (reflex::rstate's CacheTable and MutexTable),
// for a server with a database and no NATS: several servers sharing the database share them.

namespace reflex::rstategate {

/// Cached values in `schema`'s table (create it with rstate::cache_ddl).
[[nodiscard]] REFLEX_RSTATEGATE_EXPORT std::shared_ptr<CacheStore> make_sql_cache_store(
    std::shared_ptr<rsql::Database> database, rstate::CacheSchema schema = {});
/// Locks in `schema`'s table (create it with rstate::mutexes_ddl).
[[nodiscard]] REFLEX_RSTATEGATE_EXPORT std::shared_ptr<MutexStore> make_sql_mutex_store(
    std::shared_ptr<rsql::Database> database, rstate::MutexesSchema schema = {});

}  // namespace reflex::rstategate
