// The PostgreSQL handles of exactly-once consumers: transactional cursors that hand the consumer
// the libpqxx transaction of reflex's own session, and inbox records in the caller's transaction.
#include <pqxx/pqxx>

#include "access.hpp"
#include "error_mapping.hpp"
#include "postgres/session.hpp"
#include "reflex/rsql/postgres.hpp"
#include "transactional_cursors.hpp"

namespace reflex::rsql {

template <>
std::shared_ptr<rpatterns::TransactionalCursors<pqxx::transaction_base&>>
transactional_cursors<pqxx::transaction_base&>(std::shared_ptr<Database> database,
                                               TransactionalCursorsOptions options) {
  return std::make_shared<detail::TransactionalCursorsOf<pqxx::transaction_base&>>(
      std::move(database), std::move(options), Dialect::postgres,
      "transactional_cursors<pqxx::transaction_base&>",
      [](detail::Session& session) -> pqxx::transaction_base& {
        return static_cast<detail::PgSession&>(session).transaction();
      },
      [] { detail::rethrow_pg(nullptr); });
}

bool record(const Inbox& inbox, pqxx::transaction_base& transaction, std::string_view source,
            std::string_view event_id) {
  auto& impl = detail::Access::impl(inbox);
  impl.expect_dialect(Dialect::postgres, "record(pqxx::transaction_base&)");
  detail::InboxImpl::check(source, event_id);
  // Prepared once per connection, its name derived from its text (as the producer's inserts;
  // unnamed behind a transaction pooler).
  const std::string sql = impl.insert_sql("$1", "$2");
  const std::string name = detail::statement_name("reflex_inbox_", sql);
  try {
    try {
      const std::string values[] = {std::string(source), std::string(event_id)};
      const auto result = detail::exec_statement(
          transaction, detail::Access::driver(*impl.database).keeps_session_state(), name, sql,
          {values[0].c_str(), values[1].c_str()});
      return result.affected_rows() > 0;
    } catch (...) {
      detail::rethrow_pg(nullptr);
    }
  } catch (...) {
    detail::rethrow_with_schema_hint(inbox.options().schema.table, "inbox_ddl", Dialect::postgres);
  }
}

}  // namespace reflex::rsql
