// S1, S2, M1, MEM: catching up on a long table, against keyset scans with the bare libraries.
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <libpq-fe.h>
#include <mysql_driver.h>
#include <prometheus/registry.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>

#include "reflex/mem_cursor_store.hpp"
#include "reflex/prometheus/metrics.hpp"
#include "reflex/reflex.hpp"
#include "reflex/rsql/mysql.hpp"
#include "reflex/rsql/postgres.hpp"
#include "reflex/rsql/rsql.hpp"
#include "reflex/uri.hpp"
#include "scenarios.hpp"

extern char** environ;

namespace bench {
namespace {

using reflex::rsql::Database;
using reflex::rsql::EventsTable;

/// What both sides decode each row into.
struct Decoded {
  std::int64_t id = 0;
  int type = 0;
  std::string foreign_id;
  std::int64_t micros = 0;
  std::string metadata;
};

volatile std::int64_t g_sink = 0;  // keeps decoded rows observable

/// The raw baseline of S1: a prepared keyset scan over libpq, every row decoded.
double libpq_scan(const std::string& dsn, const std::string& table, long count) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  if (PQstatus(conn) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn));
  const std::string sql =
      "SELECT id, type, foreign_id, (EXTRACT(EPOCH FROM \"timestamp\") * "
      "1000000)::bigint, metadata FROM " +
      table + " WHERE id > $1 ORDER BY id LIMIT $2";
  PQclear(PQprepare(conn, "scan", sql.c_str(), 2, nullptr));
  const auto start = Clock::now();
  std::int64_t after = 0;
  long seen = 0;
  Decoded d;
  for (;;) {
    const std::string a = std::to_string(after);
    const char* params[] = {a.c_str(), "1000"};
    PGresult* r = PQexecPrepared(conn, "scan", 2, params, nullptr, nullptr, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) throw std::runtime_error(PQerrorMessage(conn));
    const int n = PQntuples(r);
    for (int i = 0; i < n; ++i) {
      d.id = std::strtoll(PQgetvalue(r, i, 0), nullptr, 10);
      d.type = static_cast<int>(std::strtol(PQgetvalue(r, i, 1), nullptr, 10));
      d.foreign_id.assign(PQgetvalue(r, i, 2), static_cast<std::size_t>(PQgetlength(r, i, 2)));
      d.micros = std::strtoll(PQgetvalue(r, i, 3), nullptr, 10);
      std::size_t len = 0;
      unsigned char* bytes =
          PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r, i, 4)), &len);
      d.metadata.assign(reinterpret_cast<const char*>(bytes), len);
      PQfreemem(bytes);
      g_sink = g_sink + d.id + d.type + static_cast<std::int64_t>(d.metadata.size());
      after = d.id;
    }
    PQclear(r);
    seen += n;
    if (n < 1000) break;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  PQfinish(conn);
  if (seen != count) throw std::runtime_error("libpq scan saw " + std::to_string(seen) + " rows");
  return static_cast<double>(seen) / seconds;
}

/// Streams a whole table to head into a no-op consumer through reflex::run; events/s.
double reflex_catch_up(const std::string& dsn, const std::string& table, long count,
                       std::shared_ptr<reflex::MetricsObserver> metrics = nullptr) {
  const EventsTable events(Database::open(dsn), {.schema = {.table = table}, .metrics = metrics});
  long seen = 0;
  auto consumer = reflex::make_consumer("bench", [&](const reflex::Event& e) { seen += e.type; },
                                        {.metrics = metrics});
  const auto start = Clock::now();
  try {
    reflex::run({}, reflex::Spec{.stream = events.stream_func(),
                                 .cursors = std::make_shared<reflex::MemCursorStore>(),
                                 .consumer = consumer,
                                 .options = {.to_head = true}});
  } catch (const reflex::HeadReached&) {
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (seen != count) throw std::runtime_error("reflex stream saw " + std::to_string(seen));
  return static_cast<double>(seen) / seconds;
}

std::string ensure_mysql_stream_table(const Config& cfg, long count) {
  const std::string table = "bench_stream_" + std::to_string(count);
  auto db = Database::open(cfg.mysql_dsn);
  db->create_events_table({.table = table});
  auto conn = reflex::rsql::connect_mysql(cfg.mysql_dsn);
  std::unique_ptr<sql::Statement> st(conn->createStatement());
  std::unique_ptr<sql::ResultSet> rs(st->executeQuery("SELECT COUNT(*) FROM " + table));
  rs->next();
  if (rs->getInt64(1) != count) {
    log("filling MariaDB " + table);
    st->execute("TRUNCATE TABLE " + table);
    for (long done = 0; done < count; done += 100000) {
      const long to = std::min(count, done + 100000);
      // Explicit ids: a bulk INSERT ... SELECT leaves holes in AUTO_INCREMENT ids, which a
      // reader must probe one by one (the scan would measure hole probing, not streaming).
      st->execute("INSERT INTO " + table +
                  " (id, foreign_id, type, metadata) SELECT seq, seq, 1, UNHEX(REPEAT('ab', 64)) "
                  "FROM seq_" +
                  std::to_string(done + 1) + "_to_" + std::to_string(to));
    }
  }
  return table;
}

/// The raw baseline of S2: a prepared keyset scan with the connector, every row decoded.
double connector_scan(const std::string& dsn, const std::string& table, long count) {
  auto conn = reflex::rsql::connect_mysql(dsn);
  std::unique_ptr<sql::PreparedStatement> scan(conn->prepareStatement(
      "SELECT id, type, foreign_id, CAST(UNIX_TIMESTAMP(`timestamp`) * 1000000 AS SIGNED), "
      "metadata FROM " +
      table + " WHERE id > ? ORDER BY id LIMIT ?"));
  const auto start = Clock::now();
  std::int64_t after = 0;
  long seen = 0;
  Decoded d;
  for (;;) {
    scan->setInt64(1, after);
    scan->setInt(2, 1000);
    std::unique_ptr<sql::ResultSet> rs(scan->executeQuery());
    long n = 0;
    while (rs->next()) {
      d.id = rs->getInt64(1);
      d.type = rs->getInt(2);
      d.foreign_id = rs->getString(3);
      d.micros = rs->getInt64(4);
      d.metadata = rs->getString(5);
      g_sink = g_sink + d.id + d.type + static_cast<std::int64_t>(d.metadata.size());
      after = d.id;
      ++n;
    }
    seen += n;
    if (n < 1000) break;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (seen != count) throw std::runtime_error("connector scan saw " + std::to_string(seen));
  return static_cast<double>(seen) / seconds;
}

long child_peak_kib(const Config& cfg, const std::string& table, long events) {
  ChildProcess child({cfg.self, "--mem-child", cfg.pg_dsn, table, std::to_string(events)});
  return std::stol(child.finish());
}

}  // namespace

std::string ensure_pg_stream_table(const Config& cfg, long count) {
  const std::string table = "bench_stream_" + std::to_string(count);
  Database::open(cfg.pg_dsn)->create_events_table({.table = table});
  pqxx::connection conn(cfg.pg_dsn);
  pqxx::work w(conn);
  if (w.exec1("SELECT COUNT(*) FROM " + table)[0].as<long>() != count) {
    log("filling PostgreSQL " + table);
    w.exec0("TRUNCATE " + table);
    w.exec0("INSERT INTO " + table +
            " (foreign_id, type, metadata) SELECT i::text, 1, decode(repeat('ab', 64), 'hex') "
            "FROM generate_series(1, " +
            std::to_string(count) + ") i");
  }
  w.commit();
  pqxx::nontransaction(conn).exec0("VACUUM ANALYZE " + table);
  return table;
}

int mem_child(const std::string& dsn, const std::string& table, long events) {
  const EventsTable source(Database::open(dsn), {.schema = {.table = table}});
  std::stop_source stop;
  long seen = 0;
  auto consumer = reflex::make_consumer("mem", [&](const reflex::Event&) {
    if (++seen == events) stop.request_stop();
  });
  try {
    reflex::run(stop.get_token(),
                reflex::Spec{.stream = source.stream_func(),
                             .cursors = std::make_shared<reflex::MemCursorStore>(),
                             .consumer = consumer,
                             .options = {.to_head = true}});
  } catch (const std::exception&) {
  }
  if (seen != events) return 1;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmHWM:")) {
      std::printf("%ld\n", std::stol(line.substr(6)));
      return 0;
    }
  }
  return 1;
}

void stream_scenarios(const Config& cfg, std::vector<Row>& rows) {
  const long count = cfg.quick ? 100000 : 1000000;
  const std::string label = cfg.quick ? "100k" : "1M";
  // The catch-ups (S1, M1, S2) read a fifth of that a round, and take up to three times as many
  // rounds: rounds of the whole 1M-event table were 5 to 9 a row, too few for a median that holds
  // from run to run (S1 0.73, 0.83 and 0.67, S2 0.85, 0.81, 0.89 and 0.80 in quiet runs); and what
  // metrics cost is a few percent, so M1's median needs many rounds more than long ones.
  const long some = count / 5;
  const std::string some_label = std::to_string(some / 1000) + "k";
  const int catch_up_rounds = cfg.max_rounds() * 3;
  if (cfg.wants("S1") || cfg.wants("M1")) {
    const std::string part = ensure_pg_stream_table(cfg, some);
    if (cfg.wants("S1")) {
      log("S1");
      const auto measured = compare(cfg,
                                    {[&] { return libpq_scan(cfg.pg_dsn, part, some); },
                                     [&] { return reflex_catch_up(cfg.pg_dsn, part, some); }},
                                    catch_up_rounds);
      rows.push_back(ratio_row(
          "S1",
          "PG catch-up of " + some_label + " events to a no-op consumer (raw: libpq keyset scan)",
          "events/s", measured, 0.75));
    }
    if (cfg.wants("M1")) {
      log("M1");
      ::prometheus::Registry registry;
      auto metrics = std::make_shared<reflex::prometheus::Metrics>(registry);
      const auto measured =
          compare(cfg,
                  {[&] { return reflex_catch_up(cfg.pg_dsn, part, some); },
                   [&] { return reflex_catch_up(cfg.pg_dsn, part, some, metrics); }},
                  catch_up_rounds);
      rows.push_back(ratio_row(
          "M1", "PG catch-up of " + some_label + " events with Prometheus metrics (raw: without)",
          "events/s", measured, 0.97));
    }
  }
  if (cfg.wants("MEM")) {
    log("MEM");
    const std::string table = ensure_pg_stream_table(cfg, count);
    const long small = count / 10;
    const auto measured =
        compare(cfg, {[&] { return static_cast<double>(child_peak_kib(cfg, table, small)); },
                      [&] { return static_cast<double>(child_peak_kib(cfg, table, count)); }});
    rows.push_back(ratio_row("MEM",
                             "peak RSS streaming " + label +
                                 " events (raw: " + std::to_string(small / 1000) + "k events)",
                             "KiB", measured, 1.10, true));
  }
  if (cfg.wants("S2")) {
    log("S2");
    const std::string table = ensure_mysql_stream_table(cfg, some);
    const auto measured = compare(cfg,
                                  {[&] { return connector_scan(cfg.mysql_dsn, table, some); },
                                   [&] { return reflex_catch_up(cfg.mysql_dsn, table, some); }},
                                  catch_up_rounds);
    rows.push_back(ratio_row(
        "S2", "MariaDB catch-up of " + some_label + " events (raw: connector keyset scan)",
        "events/s", measured, 0.70));
  }
}

}  // namespace bench
