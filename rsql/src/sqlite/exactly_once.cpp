// The SQLite handles of exactly-once consumers: transactional cursors that hand the consumer the
// connection of reflex's own session, and inbox records on the caller's connection.
#include <sqlite3.h>

#include "access.hpp"
#include "error_mapping.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/sqlite.hpp"
#include "sqlite/session.hpp"
#include "transactional_cursors.hpp"

namespace reflex::rsql {

template <>
std::shared_ptr<rpatterns::TransactionalCursors<sqlite3*>> transactional_cursors<sqlite3*>(
    std::shared_ptr<Database> database, TransactionalCursorsOptions options) {
  return std::make_shared<detail::TransactionalCursorsOf<sqlite3*>>(
      std::move(database), std::move(options), Dialect::sqlite, "transactional_cursors<sqlite3*>",
      [](detail::Session& session) {
        return static_cast<detail::SqliteSession&>(session).handle();
      },
      // The consumer's own sqlite3 calls report their errors as it chooses: nothing to map.
      [] {});
}

bool record(const Inbox& inbox, sqlite3* db, std::string_view source, std::string_view event_id) {
  auto& impl = detail::Access::impl(inbox);
  impl.expect_dialect(Dialect::sqlite, "record(sqlite3*)");
  detail::InboxImpl::check(source, event_id);
  if (db == nullptr) throw ConfigError("inbox record(sqlite3*) got a null connection");
  if (sqlite3_get_autocommit(db) != 0) {
    throw ConfigError(
        "inbox record needs an open transaction (BEGIN … COMMIT on this connection) so that the "
        "record commits with your change");
  }
  try {
    detail::Statement stmt(db, impl.insert);
    const detail::Param params[] = {source, event_id};
    stmt.bind(params);
    stmt.run(nullptr);
  } catch (...) {
    detail::rethrow_with_schema_hint(inbox.options().schema.table, "inbox_ddl", Dialect::sqlite);
  }
  return sqlite3_changes64(db) > 0;
}

}  // namespace reflex::rsql
