#pragma once

#include <chrono>
#include <memory>

#include "reflex/buffered_cursor_store.hpp"
#include "reflex/metrics.hpp"
#include "reflex/rsql/database.hpp"
#include "reflex/rsql/export.hpp"
#include "reflex/rsql/schema.hpp"

namespace reflex::rsql {

/// How a CursorsTable writes.
struct CursorsTableOptions {
  CursorsSchema schema{};
  /// Buffered: set() only records the cursor; a background flush writes the latest cursor of
  /// every consumer this often (and flush() writes now). Zero: every set() writes synchronously.
  std::chrono::milliseconds flush_interval{std::chrono::seconds(1)};
  std::shared_ptr<MetricsObserver> metrics{};
};

/// Consumer cursors kept in an SQL table, one row per consumer: a reflex::BufferedCursorStore
/// (its rules: buffered writes of the latest cursor, forward-only numeric cursors refused with
/// CursorConflict when another runner is ahead, nothing dropped by a failed flush).
///
/// The forward-only rule holds in the database, so two processes cannot rewind each other: a
/// numeric cursor is only ever updated to a greater number (compared as numbers, in SQL).
/// Cursor writes are counted in the table's metrics (`reflex_table_cursor_writes_total`).
///
/// Thread-safety: all members may be called from several threads. Lifetime: the destructor stops
/// the background flush and makes a last attempt to write pending cursors (errors are swallowed
/// there: call flush() first to see them).
class REFLEX_RSQL_EXPORT CursorsTable final : public BufferedCursorStore {
 public:
  /// Validates the schema names (ConfigError) but does not connect.
  explicit CursorsTable(std::shared_ptr<Database> database, CursorsTableOptions options = {});
};

}  // namespace reflex::rsql
