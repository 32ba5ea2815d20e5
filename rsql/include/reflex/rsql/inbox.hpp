#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>

#include "reflex/rpatterns/inbox.hpp"
#include "reflex/rsql/database.hpp"
#include "reflex/rsql/export.hpp"
#include "reflex/rsql/schema.hpp"

namespace reflex::rsql {

namespace detail {
class InboxImpl;
struct Access;
}  // namespace detail

/// How an Inbox keeps its records.
struct InboxOptions {
  InboxSchema schema{};
  /// Records older than this are purged (an event delivered again after that is not recognised:
  /// keep it longer than any redelivery or replay can lag).
  std::chrono::hours retention{24 * 7};
  /// A background thread purges this often (zero: never; call purge()).
  std::chrono::milliseconds purge_interval{std::chrono::seconds(60)};
  /// Rows per DELETE of a purge (each its own short statement, so a purge never holds long locks).
  std::size_t purge_batch = 1000;
};

/// An rpatterns::Inbox in an SQL table (inbox_ddl, Database::create_inbox_table): one row per
/// (source, event id), written on reflex's own connections by record(), or in the caller's own
/// transaction by the dialect's `record(inbox, transaction, source, event_id)`
/// (`<reflex/rsql/postgres.hpp>`, `mysql.hpp`, `sqlite.hpp`), which makes the record commit or
/// roll back with the caller's effects: exactly once for effects in that database. Sources and
/// event ids are at most 255 bytes (ConfigError otherwise: MariaDB's column would cut them).
///
/// Thread-safety: all members may be called from several threads. Lifetime: the destructor stops
/// the background purge promptly (a purge in progress ends after its current DELETE).
class REFLEX_RSQL_EXPORT Inbox final : public rpatterns::Inbox {
 public:
  /// Validates the schema and options (ConfigError) but does not connect; starts the background
  /// purge when purge_interval is not zero.
  explicit Inbox(std::shared_ptr<Database> database, InboxOptions options = {});
  ~Inbox() override;
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  [[nodiscard]] bool contains(std::string_view source, std::string_view event_id) override;
  /// Inserts the record unless it exists (one statement, committed at once); true when it is new.
  bool record(std::string_view source, std::string_view event_id) override;
  /// Deletes the records made before `older_than`, in batches of options().purge_batch; returns
  /// how many.
  std::size_t purge(std::chrono::system_clock::time_point older_than);

  [[nodiscard]] const InboxOptions& options() const noexcept;
  [[nodiscard]] const std::shared_ptr<Database>& database() const noexcept;

 private:
  friend struct detail::Access;  // the dialects' record() on a caller's transaction
  std::unique_ptr<detail::InboxImpl> impl_;
};

}  // namespace reflex::rsql
