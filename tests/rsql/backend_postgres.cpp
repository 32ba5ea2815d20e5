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

class PgBackend final : public Backend {
 public:
  reflex::rsql::Dialect dialect() const override { return reflex::rsql::Dialect::postgres; }
  std::string dsn() const override { return required_env("REFLEX_TEST_PG_DSN"); }
  std::unique_ptr<Producer> producer() override { return std::make_unique<PgProducer>(dsn()); }
};

}  // namespace

std::unique_ptr<Backend> make_backend() {
  return std::make_unique<PgBackend>();
}

}  // namespace reflex_test::rsql
