#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/cursor_store.hpp"
#include "reflex/metrics.hpp"
#include "reflex/rsql/database.hpp"
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

/// Consumer cursors kept in an SQL table (reflex::CursorStore), one row per consumer.
///
/// Writes are monotonic: a cursor that is a decimal number (every SQL and JetStream cursor) never
/// moves backwards; a write that would is refused with CursorConflict (another runner of the same
/// consumer is ahead), so two runners cannot silently rewind each other. Cursors that are not
/// numbers are written as given. A failed flush keeps every cursor it could not write for the
/// next flush and rethrows; nothing is dropped.
///
/// Thread-safety: all members may be called from several threads. Lifetime: the destructor stops
/// the background flush and makes a last attempt to write pending cursors (errors are swallowed
/// there: call flush() first to see them).
class CursorsTable final : public CursorStore {
 public:
  CursorsTable(std::shared_ptr<Database> database, CursorsTableOptions options = {});
  ~CursorsTable() override;
  CursorsTable(const CursorsTable&) = delete;
  CursorsTable& operator=(const CursorsTable&) = delete;

  /// The cursor of `name` ("" when it has none): a pending (unflushed) one if any.
  [[nodiscard]] std::string get(std::string_view name) override;
  /// Records the cursor; writes it now when unbuffered.
  void set(std::string_view name, std::string_view cursor) override;
  /// Writes every pending cursor. Throws the first failure after trying all of them.
  void flush() override;

  /// Every stored cursor, by name (pending ones flushed first).
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> list();
  /// Writes a cursor now even if it moves backwards (operator repair).
  void force_set(std::string_view name, std::string_view cursor);
  /// Deletes a consumer's cursor row; returns whether it existed.
  bool remove(std::string_view name);

  /// Names of the cursors written but not yet flushed.
  [[nodiscard]] std::vector<std::string> pending() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace reflex::rsql
