// X1: what exactly-once effects cost a PostgreSQL consumer that applies each event with an UPDATE:
// a transactional cursor (the UPDATEs of a batch and the cursor in one transaction) against the
// same consumer with a buffered CursorsTable cursor (one autocommit UPDATE per event, at least
// once).
#include <pqxx/pqxx>

#include "reflex/reflex.hpp"
#include "reflex/rpatterns/batch.hpp"
#include "reflex/rpatterns/transactional.hpp"
#include "reflex/rsql/postgres.hpp"
#include "reflex/rsql/rsql.hpp"
#include "scenarios.hpp"

namespace bench {
namespace {

namespace rsql = reflex::rsql;
namespace rpatterns = reflex::rpatterns;

constexpr const char* kBalances = "bench_x1_balances";
constexpr const char* kCursors = "bench_x1_cursors";
constexpr int kAccounts = 1000;
const std::string kUpdate = std::string("UPDATE ") + kBalances +
                            " SET amount = amount + 1 WHERE account = $1::bigint % " +
                            std::to_string(kAccounts);

void create_tables(const Config& cfg) {
  auto db = rsql::Database::open(cfg.pg_dsn);
  db->create_cursors_table({.table = kCursors});
  pqxx::connection conn(cfg.pg_dsn);
  pqxx::work w(conn);
  w.exec0(std::string("DROP TABLE IF EXISTS ") + kBalances);
  w.exec0(std::string("CREATE TABLE ") + kBalances +
          " (account bigint PRIMARY KEY, amount bigint NOT NULL)");
  w.exec0(std::string("INSERT INTO ") + kBalances + " SELECT i, 0 FROM generate_series(0, " +
          std::to_string(kAccounts - 1) + ") i");
  w.commit();
}

/// Events per second of `spec` run to the head over `count` events.
double run_to_head(const reflex::Spec& spec, long count, const long& applied) {
  const auto start = Clock::now();
  try {
    reflex::run({}, spec);
  } catch (const reflex::HeadReached&) {
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (applied != count) throw std::runtime_error("X1 applied " + std::to_string(applied));
  return static_cast<double>(count) / seconds;
}

double transactional(const Config& cfg, const std::string& table, long count, int rep) {
  auto db = rsql::Database::open(cfg.pg_dsn);
  const rsql::EventsTable events(db, {.schema = {.table = table}});
  using Tx = pqxx::transaction_base&;
  long applied = 0;
  const auto spec = rpatterns::transactional_spec<Tx>(
      events.stream_func(), rsql::transactional_cursors<Tx>(db, {.cursors = {.table = kCursors}}),
      {.name = "x1_tx_" + std::to_string(rep)},
      [&](std::stop_token, Tx tx, std::span<const reflex::Event> batch) {
        tx.conn().prepare("x1_update", kUpdate);
        for (const auto& e : batch) tx.exec_prepared0("x1_update", e.foreign_id);
        applied += static_cast<long>(batch.size());
      },
      {.max_batch = 100, .stream = {.to_head = true}});
  return run_to_head(spec, count, applied);
}

double buffered(const Config& cfg, const std::string& table, long count, int rep) {
  auto db = rsql::Database::open(cfg.pg_dsn);
  const rsql::EventsTable events(db, {.schema = {.table = table}});
  pqxx::connection conn(cfg.pg_dsn);
  conn.prepare("x1_update", kUpdate);
  long applied = 0;
  auto consumer =
      reflex::make_consumer("x1_buffered_" + std::to_string(rep), [&](const reflex::Event& e) {
        pqxx::nontransaction tx(conn);
        tx.exec_prepared0("x1_update", e.foreign_id);
        ++applied;
      });
  const reflex::Spec spec{.stream = events.stream_func(),
                          .cursors = std::make_shared<rsql::CursorsTable>(
                              db, rsql::CursorsTableOptions{.schema = {.table = kCursors}}),
                          .consumer = consumer,
                          .options = {.to_head = true}};
  return run_to_head(spec, count, applied);
}

/// The buffered consumer with the batches of the transactional one (batch_spec, one transaction of
/// its own per batch, the cursor flushed after it): what the cursor in the transaction costs.
double batched(const Config& cfg, const std::string& table, long count, int rep) {
  auto db = rsql::Database::open(cfg.pg_dsn);
  const rsql::EventsTable events(db, {.schema = {.table = table}});
  pqxx::connection conn(cfg.pg_dsn);
  conn.prepare("x1_update", kUpdate);
  long applied = 0;
  const auto spec = rpatterns::batch_spec(
      events.stream_func(),
      std::make_shared<rsql::CursorsTable>(
          db, rsql::CursorsTableOptions{.schema = {.table = kCursors}}),
      "x1_batched_" + std::to_string(rep),
      [&](std::stop_token, std::span<const reflex::Event> batch) {
        pqxx::work tx(conn);
        for (const auto& e : batch) tx.exec_prepared0("x1_update", e.foreign_id);
        tx.commit();
        applied += static_cast<long>(batch.size());
      },
      {.max_size = 100, .window = std::chrono::milliseconds(5), .stream = {.to_head = true}});
  return run_to_head(spec, count, applied);
}

}  // namespace

void exactly_once_scenarios(const Config& cfg, std::vector<Row>& rows) {
  if (!cfg.wants("X1")) return;
  log("X1");
  const long count = cfg.quick ? 2000 : 5000;  // per round: short rounds, more of them
  const std::string table = ensure_pg_stream_table(cfg, count);
  create_tables(cfg);
  int rep = 0;
  const auto measured = compare(cfg, {[&] { return buffered(cfg, table, count, ++rep); },
                                      [&] { return transactional(cfg, table, count, ++rep); },
                                      [&] { return batched(cfg, table, count, ++rep); }});
  auto row = ratio_row("X1",
                       "PG consumer, one UPDATE per event, exactly once: transactional cursor, "
                       "batches of 100 (raw: buffered CursorsTable cursor, autocommit UPDATEs)",
                       "events/s", measured, 0.8);
  row.note = "at least once in the same batches (batch_spec, own transaction per batch): " +
             std::to_string(static_cast<long>(measured.value(2).median)) +
             " events/s, transactional/that " +
             std::to_string(measured.ratio(1, 2).median).substr(0, 4);
  rows.push_back(std::move(row));
}

}  // namespace bench
