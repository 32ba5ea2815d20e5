#include <pqxx/pqxx>

#include "backend.hpp"
#include "reflex/rsql/postgres.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test::rsql {
namespace {

using reflex::rsql::EventsTable;
using reflex::rsql::NewEvent;
using reflex::rsql::Notifier;

/// libpq connection string of a postgresql:// test DSN (libpq parses URIs itself).
class PgProducer final : public Producer {
 public:
  explicit PgProducer(const std::string& dsn) : conn_(dsn) {}
  void begin() override { tx_ = std::make_unique<pqxx::work>(conn_); }
  Notifier insert(const EventsTable& table, const NewEvent& event) override {
    return table.insert(*tx_, event);
  }
  Notifier insert_batch(const EventsTable& table, std::span<const NewEvent> events) override {
    return table.insert_batch(*tx_, events);
  }
  void exec(const std::string& sql) override { tx_->exec(sql); }
  bool record(const reflex::rsql::Inbox& inbox, std::string_view source,
              std::string_view event_id) override {
    return reflex::rsql::record(inbox, *tx_, source, event_id);
  }
  void commit() override {
    tx_->commit();
    tx_.reset();
  }
  void rollback() override {
    tx_->abort();
    tx_.reset();
  }

 private:
  pqxx::connection conn_;
  std::unique_ptr<pqxx::work> tx_;
};

class PgHandle final : public Handle {
 public:
  explicit PgHandle(pqxx::transaction_base& tx) : tx_(tx) {}
  void exec(const std::string& sql) override { tx_.exec(sql); }

 private:
  pqxx::transaction_base& tx_;
};

#ifdef REFLEX_TEST_THROUGH_PGBOUNCER
/// Everything through PgBouncer in transaction pool mode: reflex told so by its DSN, the
/// producers' and checks' own connections on the pooler's plain libpq DSN.
const char* const kServerDsnVariable = "REFLEX_TEST_PGBOUNCER_DSN";
const char* const kReflexDsnSuffix = "?pool_mode=transaction";
#else
const char* const kServerDsnVariable = "REFLEX_TEST_PG_DSN";
const char* const kReflexDsnSuffix = "";
#endif

class PgBackend final : public Backend {
 public:
  reflex::rsql::Dialect dialect() const override { return reflex::rsql::Dialect::postgres; }
  std::string dsn() const override { return server_dsn() + kReflexDsnSuffix; }
  std::unique_ptr<Producer> producer() override {
    return std::make_unique<PgProducer>(server_dsn());
  }
  std::unique_ptr<TxCursors> transactional_cursors(
      reflex::rsql::TransactionalCursorsOptions options) override {
    using T = pqxx::transaction_base&;
    return std::make_unique<TxCursorsOf<T, PgHandle>>(
        reflex::rsql::transactional_cursors<T>(database(), std::move(options)));
  }
  std::vector<std::string> query(const std::string& sql) override {
    pqxx::connection conn(server_dsn());
    pqxx::nontransaction tx(conn);
    std::vector<std::string> out;
    for (const auto& row : tx.exec(sql)) out.push_back(row[0].c_str());
    return out;
  }

 private:
  static std::string server_dsn() { return required_env(kServerDsnVariable); }
};

}  // namespace

std::unique_ptr<Backend> make_backend() {
  return std::make_unique<PgBackend>();
}

}  // namespace reflex_test::rsql
