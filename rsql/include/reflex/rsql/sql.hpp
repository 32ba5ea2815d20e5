#pragma once
/// Statements on an open transaction, the same for every dialect: what modules built on rsql
/// (reflex::rstate) write their own tables with, on a transaction of reflex's own
/// (Database::transact) or on the caller's (`sql_on` in the dialect headers), next to the events
/// they insert. SQL uses `?` placeholders, which each dialect rewrites as it needs; each distinct
/// text is prepared once per connection where the dialect allows (so pass values as parameters,
/// never spliced into the text).

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <variant>

#include "reflex/rsql/export.hpp"
#include "reflex/rsql/schema.hpp"

namespace reflex::rsql {

/// Bytes bound as a BLOB / BYTEA (a std::string_view parameter is bound as text).
struct SqlBytes {
  std::string_view bytes;
};

/// One parameter: NULL, an integer, text or bytes. Views must stay valid for the call.
using SqlParam = std::variant<std::nullptr_t, std::int64_t, std::string_view, SqlBytes>;

/// One result row, valid only inside the row callback.
class REFLEX_RSQL_EXPORT SqlRow {
 public:
  virtual ~SqlRow() = default;
  [[nodiscard]] virtual bool is_null(int column) const = 0;
  /// The integer; 0 for NULL. A DatabaseError (kind data) when the value is no integer.
  [[nodiscard]] virtual std::int64_t int64(int column) const = 0;
  /// Text or bytes (a BLOB/BYTEA column comes back as its raw bytes); empty for NULL. Valid until
  /// the next call on the row.
  [[nodiscard]] virtual std::string_view text(int column) const = 0;
};
using SqlRowCallback = std::function<void(const SqlRow&)>;

/// Statements inside one open transaction. Errors are DatabaseError with a kind, on one line
/// (a missing table is kind undefined_table; `retryable()` says whether running the whole
/// transaction again may succeed).
///
/// Thread-safety: one thread at a time. Lifetime: valid inside the call that hands it out
/// (Database::transact) or while the caller's transaction is open (`sql_on`).
class REFLEX_RSQL_EXPORT Sql {
 public:
  virtual ~Sql() = default;
  /// Runs a statement that returns rows; `on_row` is called for each, in order.
  virtual void query(std::string_view sql, std::span<const SqlParam> params,
                     const SqlRowCallback& on_row) = 0;
  /// Runs a statement that returns no rows; returns the number of rows it changed.
  virtual std::uint64_t execute(std::string_view sql, std::span<const SqlParam> params) = 0;
};

}  // namespace reflex::rsql
