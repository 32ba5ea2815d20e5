#pragma once

#include <memory>

#include "reflex/rpatterns/shared.hpp"
#include "reflex/rsql/database.hpp"
#include "reflex/rsql/export.hpp"
#include "reflex/rsql/schema.hpp"

namespace reflex::rsql {

/// Options of a ShardsTable.
struct ShardsTableOptions {
  ShardsSchema schema{};
};

/// The leases and cursors of shared consumers (rpatterns::run_shared) in SQL tables, the tables
/// of shards_ddl (Database::create_shards_tables): one row per shard with its owner, fencing
/// token, expiry and cursor, and one row per live member. Works on PostgreSQL, MariaDB/MySQL and
/// SQLite alike.
///
/// Every rule holds in one SQL statement, so processes on any machines agree: a lease is taken
/// by a conditional UPDATE that only matches a free or expired row (and adds 1 to the token);
/// renewals, releases and cursor writes match only the row of their token, so a member that lost
/// its lease writes nothing (CursorConflict, "fenced out"). Expiry is decided by the database's
/// clock (microseconds since the epoch), never by the members'. A numeric cursor moves forward
/// only, as in CursorsTable.
///
/// Thread-safety: every member may be called from any thread (each call leases a pooled
/// connection). Lifetime: keeps the database alive; must outlive the runs using it.
class REFLEX_RSQL_EXPORT ShardsTable final : public rpatterns::ShardLeases {
 public:
  /// Validates the schema names (ConfigError) but does not connect. A missing table surfaces at
  /// the first call as a SchemaError naming shards_ddl.
  explicit ShardsTable(std::shared_ptr<Database> database, ShardsTableOptions options = {});
  ~ShardsTable() override;
  ShardsTable(const ShardsTable&) = delete;
  ShardsTable& operator=(const ShardsTable&) = delete;

  std::vector<std::string> heartbeat(std::string_view group, std::string_view member,
                                     std::chrono::milliseconds ttl) override;
  void leave(std::string_view group, std::string_view member) override;
  [[nodiscard]] std::optional<rpatterns::ShardState> acquire(
      std::string_view group, std::size_t shard, std::string_view member,
      std::chrono::milliseconds ttl) override;
  [[nodiscard]] bool renew(std::string_view group, std::size_t shard, std::uint64_t token,
                           std::chrono::milliseconds ttl) override;
  void release(std::string_view group, std::size_t shard, std::uint64_t token) override;
  void write_cursor(std::string_view group, std::size_t shard, std::uint64_t token,
                    std::string_view cursor) override;
  void force_cursor(std::string_view group, std::size_t shard, std::string_view cursor) override;
  [[nodiscard]] std::vector<rpatterns::ShardState> list(std::string_view group) override;
  [[nodiscard]] std::string describe() const override;

  /// Every shared consumer with rows in the table, sorted (what `reflexctl cursors list` shows).
  [[nodiscard]] std::vector<std::string> groups();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace reflex::rsql
