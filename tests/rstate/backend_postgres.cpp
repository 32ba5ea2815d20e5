#include <pqxx/pqxx>

#include "backend.hpp"
#include "reflex/rsql/postgres.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test::rstate {
namespace {

class PgTransaction final : public CallerTransaction {
 public:
  explicit PgTransaction(const std::string& dsn) : conn_(dsn), tx_(conn_) {}
  reflex::rstate::Written apply(const reflex::rstate::Entities& entities,
                                reflex::rstate::Method method, const reflex::rstate::EntityRef& ref,
                                std::string_view argument,
                                const reflex::rstate::Change& change) override {
    return apply_on(entities, static_cast<pqxx::transaction_base&>(tx_), method, ref, argument,
                    change);
  }
  void exec(const std::string& sql) override { tx_.exec(sql); }
  void commit() override { tx_.commit(); }
  void rollback() override { tx_.abort(); }

 private:
  pqxx::connection conn_;
  pqxx::work tx_;
};

class PgBackend final : public Backend {
 public:
  reflex::rsql::Dialect dialect() const override { return reflex::rsql::Dialect::postgres; }
  std::string dsn() const override { return required_env("REFLEX_TEST_PG_DSN"); }
  std::unique_ptr<CallerTransaction> begin() override {
    return std::make_unique<PgTransaction>(dsn());
  }
  std::string failing_trigger(const std::string& events_table,
                              const std::string& key) const override {
    return "CREATE FUNCTION \"" + events_table +
           "_fail\"() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN IF NEW.entity_key = '" + key +
           "' THEN RAISE EXCEPTION 'forced failure'; END IF; RETURN NEW; END $fn$;\n"
           "CREATE TRIGGER \"" +
           events_table + "_fail\" BEFORE INSERT ON \"" + events_table +
           "\" FOR EACH ROW EXECUTE FUNCTION \"" + events_table + "_fail\"()";
  }
};

}  // namespace

std::unique_ptr<Backend> make_backend() {
  return std::make_unique<PgBackend>();
}

}  // namespace reflex_test::rstate
