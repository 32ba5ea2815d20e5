// The MariaDB/MySQL dialect (mysql-connector-c++ 1.1, legacy JDBC-like API).
//
// Gap safety by filling holes with no-op rows under InnoDB's own locks (see MySqlPolicy): exact;
// nothing is written for ids that commit. (information_schema.innodb_trx cannot serve: it is a
// cache that concurrent readers keep from refreshing.)

#include <cppconn/driver.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>

#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>

#include "driver.hpp"
#include "events_table_impl.hpp"
#include "reflex/errors.hpp"
#include "sql_text.hpp"

namespace reflex::rsql {
namespace detail {
namespace {

DatabaseErrorKind kind_of(int code) {
  switch (code) {
    case 1146:
      return DatabaseErrorKind::undefined_table;
    case 1054:
      return DatabaseErrorKind::undefined_column;
    case 1062:
      return DatabaseErrorKind::unique_violation;
    case 1205:  // lock wait timeout
    case 1213:  // deadlock
      return DatabaseErrorKind::transient;
    case 2002:
    case 2003:
    case 2005:
    case 2006:
    case 2013:
    case 2055:
    case 1053:  // server shutdown in progress
    case 1927:  // connection killed
      return DatabaseErrorKind::connection;
    case 1264:
    case 1265:
    case 1366:
    case 1406:
      return DatabaseErrorKind::data;
    default:
      return DatabaseErrorKind::other;
  }
}

[[noreturn]] void rethrow_mysql(bool* broken) {
  try {
    throw;
  } catch (const DatabaseError&) {
    throw;
  } catch (const sql::SQLException& e) {
    const auto kind = kind_of(e.getErrorCode());
    if (kind == DatabaseErrorKind::connection && broken) *broken = true;
    throw DatabaseError(kind, "mysql: " + std::string(e.what()) + " (error " +
                                  std::to_string(e.getErrorCode()) + ")");
  }
}

std::string hex_literal(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "X'";
  out.reserve(bytes.size() * 2 + 3);
  for (const unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out + "'";
}

struct ConnectInfo {
  std::string host;  // tcp://HOST:PORT
  std::string user;
  std::string password;
  std::string schema;
  int timeout_seconds = 5;
  std::string redacted;
};

/// `own`: a session of reflex's (short lock waits, so a reader probing a hole never hangs on a
/// long transaction); otherwise a connection for the caller, left with the server's settings.
std::unique_ptr<sql::Connection> open_connection(const ConnectInfo& info, bool own = true) {
  sql::mysql::MySQL_Driver* driver = nullptr;
  {
    // The driver instance is created once; creating it from several threads at once is not safe.
    static std::mutex init;
    std::lock_guard lock(init);
    driver = sql::mysql::get_mysql_driver_instance();
  }
  sql::ConnectOptionsMap options;
  options["hostName"] = sql::SQLString(info.host);
  options["userName"] = sql::SQLString(info.user);
  options["password"] = sql::SQLString(info.password);
  options["schema"] = sql::SQLString(info.schema);
  options["OPT_CONNECT_TIMEOUT"] = info.timeout_seconds;
  options["OPT_RECONNECT"] = false;
  options["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
  try {
    std::unique_ptr<sql::Connection> conn(driver->connect(options));
    if (own) {
      std::unique_ptr<sql::Statement> st(conn->createStatement());
      // UTC for exact TIMESTAMP round trips; short lock waits so a reader filling a hole never
      // hangs on a long transaction (it retries later).
      st->execute("SET time_zone = '+00:00', innodb_lock_wait_timeout = 1");
    }
    return conn;
  } catch (const sql::SQLException& e) {
    const int code = e.getErrorCode();
    if (code == 1045 || code == 1044 || code == 1049 || code == 1698) {
      throw ConfigError("MySQL/MariaDB refused " + info.redacted + ": " + e.what());
    }
    throw Unavailable("MySQL/MariaDB at " + info.redacted + " is unreachable: " + e.what() +
                      " (error " + std::to_string(code) + ")");
  }
}

class MySqlRow final : public Row {
 public:
  explicit MySqlRow(sql::ResultSet& rs) : rs_(rs) {}
  bool is_null(int c) const override { return rs_.isNull(static_cast<uint32_t>(c + 1)); }
  std::int64_t int64(int c) const override { return rs_.getInt64(static_cast<uint32_t>(c + 1)); }
  std::string_view text(int c) const override {
    auto& slot = scratch_[static_cast<std::size_t>(c) % 8];
    slot = rs_.getString(static_cast<uint32_t>(c + 1)).asStdString();
    return slot;
  }

 private:
  sql::ResultSet& rs_;
  mutable std::string scratch_[8];
};

class MySqlSession final : public Session {
 public:
  explicit MySqlSession(const ConnectInfo& info) : conn_(open_connection(info)) {}
  ~MySqlSession() override {
    statements_.clear();
    try {
      conn_->close();
    } catch (...) {
    }
  }

  void query(std::string_view sql, std::span<const Param> params,
             const RowCallback& on_row) override {
    try {
      auto& stmt = bind(sql, params);
      std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
      MySqlRow row(*rs);
      while (rs->next()) on_row(row);
    } catch (...) {
      rethrow_mysql(&broken_);
    }
  }

  std::uint64_t execute(std::string_view sql, std::span<const Param> params) override {
    try {
      return static_cast<std::uint64_t>(bind(sql, params).executeUpdate());
    } catch (...) {
      rethrow_mysql(&broken_);
    }
  }

  void execute_script(std::string_view statements) override {
    try {
      std::unique_ptr<sql::Statement> st(conn_->createStatement());
      std::size_t start = 0;
      while (start < statements.size()) {
        auto end = statements.find(";\n", start);
        if (end == std::string_view::npos) end = statements.size();
        const auto one = statements.substr(start, end - start);
        if (one.find_first_not_of(" \n\t") != std::string_view::npos) st->execute(std::string(one));
        start = end + 2;
      }
    } catch (...) {
      rethrow_mysql(&broken_);
    }
  }

  void begin() override {
    try {
      conn_->setAutoCommit(false);
    } catch (...) {
      rethrow_mysql(&broken_);
    }
  }
  void commit() override {
    try {
      conn_->commit();
      conn_->setAutoCommit(true);
    } catch (...) {
      rethrow_mysql(&broken_);
    }
  }
  void rollback() noexcept override {
    try {
      conn_->rollback();
      conn_->setAutoCommit(true);
    } catch (...) {
      broken_ = true;
    }
  }
  bool broken() const noexcept override { return broken_ || conn_->isClosed(); }

 private:
  sql::PreparedStatement& bind(std::string_view sql, std::span<const Param> params) {
    auto it = statements_.find(std::string(sql));
    if (it == statements_.end()) {
      it = statements_
               .emplace(std::string(sql), std::unique_ptr<sql::PreparedStatement>(
                                              conn_->prepareStatement(std::string(sql))))
               .first;
    }
    auto& stmt = *it->second;
    blobs_.clear();
    blobs_.reserve(params.size());
    unsigned index = 1;
    for (const auto& param : params) {
      if (std::holds_alternative<std::nullptr_t>(param)) {
        stmt.setNull(index, sql::DataType::VARCHAR);
      } else if (const auto* i = std::get_if<std::int64_t>(&param)) {
        stmt.setInt64(index, *i);
      } else if (const auto* t = std::get_if<std::string_view>(&param)) {
        stmt.setString(index, sql::SQLString(t->data(), t->size()));
      } else {
        const auto bytes = std::get<Blob>(param).bytes;
        blobs_.push_back(std::make_unique<std::istringstream>(std::string(bytes)));
        stmt.setBlob(index, blobs_.back().get());
      }
      ++index;
    }
    return stmt;
  }

  std::unique_ptr<sql::Connection> conn_;
  std::unordered_map<std::string, std::unique_ptr<sql::PreparedStatement>> statements_;
  std::vector<std::unique_ptr<std::istringstream>> blobs_;
  bool broken_ = false;
};

/// Resolves a hole by probing its ids with the locks InnoDB already has: in one transaction,
/// INSERT IGNORE a no-op row for every missing id. An id still held by an uncommitted insert makes
/// the probe wait for that transaction: if it commits, its row wins (the duplicate is ignored); if
/// it rolls back, the probe's row takes the id. An id that is free is taken too, and the probe
/// commits its no-op rows for good: an insert may have drawn that id from auto-increment and not
/// yet written its row (neither row nor lock exists in between), and such an insert must fail with
/// a duplicate key rather than commit behind a reader that has passed it. A probe that found every
/// id already committed writes nothing. When the probe returns, every id up to the hole's end is
/// final: committed and visible to the next read, or a no-op row. A holder that keeps its
/// transaction open longer than the session's lock wait timeout (1 s) makes the probe fail: the
/// stream stays before the hole and probes again later.
class MySqlPolicy final : public GapPolicy {
 public:
  explicit MySqlPolicy(const TableContext& table)
      : gap_(table.gap),
        metrics_(table.metrics),
        table_(table.schema.table),
        grace_(table.gap_grace),
        probe_head_("INSERT IGNORE INTO " + quote(Dialect::mysql, table.schema.table) + " (" +
                    quote(Dialect::mysql, table.schema.id_column) + ", " +
                    quote(Dialect::mysql, table.schema.foreign_id_column) + ", " +
                    quote(Dialect::mysql, table.schema.type_column) + ") VALUES ") {}

  HoleVerdict on_hole(Session& session, const Hole& hole) override {
    const std::int64_t prev = hole.prev;
    const std::int64_t next = hole.next();
    // Give an in-flight writer the grace to commit before probing its id. A writer in the hole
    // before row i drew its id before row i was written: once that is older than the grace (an
    // old hole met in a catch-up), the grace is over. The probe is exact either way, so a clock
    // that is off only moves a probe earlier or later.
    const auto now = std::chrono::system_clock::now();
    const auto fresh = [&](std::size_t i) {
      return grace_.count() > 0 && now - hole.rows[i].timestamp < grace_;
    };
    auto& g = *gap_;
    {
      std::lock_guard lock(g.mutex);
      if (next <= g.settled.load()) return {HoleDecision::reread, next};
      if (fresh(0)) {
        g.sightings.erase(g.sightings.begin(), g.sightings.lower_bound(g.settled.load()));
        auto [it, first] = g.sightings.try_emplace(prev);
        if (first) it->second.since = std::chrono::steady_clock::now();
        if (std::chrono::steady_clock::now() - it->second.since < grace_) {
          return {HoleDecision::block, next};
        }
      }
    }
    // The ids to probe: this hole's (ids up to `prev` are final already: this reader passed
    // them), then those of the later holes of the same read, in one transaction, so that a
    // catch-up over many holes costs a probe per read, not per hole. At most kMaxProbe ids, and
    // only old holes: a fresh one may be an in-flight writer's, whose lock would make the probe
    // wait and then give up on every hole in its statement.
    std::vector<Range> ranges{{prev + 1, std::min(next - 1, prev + kMaxProbe)}};
    std::int64_t through = next;  // the read is complete up to here when every probed id was free
    if (ranges[0].last == next - 1) {
      std::int64_t count = next - 1 - prev;
      for (std::size_t i = 1; i < hole.ids.size(); ++i) {
        const std::int64_t id = hole.ids[i];
        if (id != through + 1) {
          if (count + (id - through - 1) > kMaxProbe || now - hole.rows[i].timestamp < kOld) break;
          ranges.push_back({through + 1, id - 1});
          count += id - through - 1;
        }
        through = id;
      }
    }
    std::int64_t inserted = 0;
    for (;;) {
      std::size_t at = 0;  // the range being probed
      try {
        inserted = probe(session, ranges, at);
        break;
      } catch (const DatabaseError& e) {
        session.rollback();
        if (std::string_view(e.what()).find("command denied") != std::string_view::npos) {
          throw ConfigError("reading " + quote(Dialect::mysql, table_) +
                            " on MariaDB/MySQL takes INSERT on it: a reader fills holes in the "
                            "ids with no-op rows (see the README, gap safety). GRANT SELECT, "
                            "INSERT ON the table TO the reader's user. Database said: " +
                            e.what());
        }
        if (e.kind() != DatabaseErrorKind::transient) throw;
        if (at == 0) return {HoleDecision::block, next};  // still held
        // A later hole is still held: settle the ones before it.
        through = ranges[at].first - 1;
        ranges.resize(at);
      }
    }
    std::int64_t probed = 0;
    for (const auto& r : ranges) probed += r.last - r.first + 1;
    metrics_->on_hole_probe(static_cast<std::size_t>(probed));
    const bool whole = ranges[0].last == next - 1;
    // Every probed id is final now, and the read's rows between them are committed.
    const std::int64_t settled = whole ? through : ranges[0].last;
    std::lock_guard lock(g.mutex);
    if (settled > g.settled.load()) g.settled.store(settled, std::memory_order_release);
    g.sightings.erase(g.sightings.begin(), g.sightings.lower_bound(settled));
    // Every probed id was free (none committed, none held): nothing can appear in those holes
    // any more, so what this read holds up to `through` is complete. Otherwise read again.
    if (whole && inserted == probed) return {HoleDecision::pass, through};
    return {HoleDecision::reread, next};
  }

 private:
  static constexpr std::int64_t kChunk = 1000;
  static constexpr std::int64_t kMaxProbe = 20 * kChunk;
  /// A hole whose next row is this old is probed with the hole before it (the session's lock
  /// wait timeout: a writer still holding it by now is rare).
  static constexpr std::chrono::seconds kOld{1};

  /// Missing ids first..last.
  struct Range {
    std::int64_t first = 0;
    std::int64_t last = 0;
  };

  /// INSERT IGNOREs a no-op row for every id of `ranges` in one transaction, which it commits
  /// when it inserted any (else rolls back). Returns how many it inserted. When it throws, `at`
  /// is the first range of the statement that failed: the ranges before it were probed.
  std::int64_t probe(Session& session, const std::vector<Range>& ranges, std::size_t& at) {
    std::int64_t inserted = 0;
    session.begin();
    std::string sql;
    std::int64_t rows = 0;
    for (std::size_t r = 0; r < ranges.size(); ++r) {
      for (std::int64_t id = ranges[r].first; id <= ranges[r].last; ++id) {
        if (rows == 0) {
          at = r;
          sql = probe_head_;
        } else {
          sql += ", ";
        }
        sql += "(" + std::to_string(id) + ", '', 0)";
        // The first hole gets statements of its own: a failure there means it is still held.
        const bool range_end = id == ranges[r].last && (r == 0 || r + 1 == ranges.size());
        if (++rows == kChunk || range_end) {
          session.execute_script(sql);
          // INSERT IGNORE counts only the rows it inserted: an id that skipped is a row that
          // committed after our read.
          session.query("SELECT ROW_COUNT()", {}, [&](const Row& row) {
            inserted += std::max<std::int64_t>(0, row.int64(0));
          });
          rows = 0;
        }
      }
    }
    if (inserted > 0) {
      session.commit();
    } else {
      session.rollback();
    }
    return inserted;
  }

  std::shared_ptr<GapState> gap_;
  std::shared_ptr<TableMetrics> metrics_;
  std::string table_;
  std::chrono::milliseconds grace_;
  std::string probe_head_;
};

class MySqlDriver final : public Driver {
 public:
  explicit MySqlDriver(ConnectInfo info) : info_(std::move(info)) {}
  Dialect dialect() const noexcept override { return Dialect::mysql; }
  const std::string& redacted_dsn() const noexcept override { return info_.redacted; }
  std::unique_ptr<Session> connect() override { return std::make_unique<MySqlSession>(info_); }
  std::string micros_expr(std::string_view column) const override {
    return "CAST(UNIX_TIMESTAMP(" + std::string(column) + ") * 1000000 AS SIGNED)";
  }
  std::string now_expr() const override { return "CURRENT_TIMESTAMP(6)"; }
  std::string micros_param_expr() const override { return "FROM_UNIXTIME(? / 1000000)"; }
  std::unique_ptr<GapPolicy> make_gap_policy(const TableContext& table) override {
    return std::make_unique<MySqlPolicy>(table);
  }

 private:
  ConnectInfo info_;
};

}  // namespace

namespace {

ConnectInfo connect_info(const Uri& uri, const DatabaseOptions& options) {
  uri.check_params({"table"});
  if (uri.host.empty()) {
    throw ConfigError("MySQL DSN " + uri.redacted() +
                      " names no host: use mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE");
  }
  std::string schema = uri.path;
  if (!schema.empty() && schema.front() == '/') schema.erase(0, 1);
  if (schema.empty() || schema.find('/') != std::string::npos) {
    throw ConfigError("MySQL DSN " + uri.redacted() +
                      " must name one database: mysql://USER@HOST:PORT/DATABASE");
  }
  ConnectInfo info;
  info.host = "tcp://" + uri.host + ":" + std::to_string(uri.port.value_or(3306));
  info.user = uri.user;
  info.password = uri.password.value_or("");
  info.schema = schema;
  info.timeout_seconds = static_cast<int>(std::max<long long>(
      1, std::chrono::duration_cast<std::chrono::seconds>(options.connect_timeout).count()));
  info.redacted = uri.redacted();
  return info;
}

}  // namespace

std::shared_ptr<Driver> make_mysql_driver(const Uri& uri, const DatabaseOptions& options) {
  return std::make_shared<MySqlDriver>(connect_info(uri, options));
}

}  // namespace detail

std::unique_ptr<sql::Connection> connect_mysql(std::string_view dsn,
                                               const DatabaseOptions& options) {
  const Uri uri = parse_uri(dsn);
  if (uri.scheme != "mysql" && uri.scheme != "mariadb") {
    throw ConfigError("connect_mysql: " + uri.redacted() +
                      " is not a MySQL DSN; use mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE");
  }
  return detail::open_connection(detail::connect_info(uri, options), false);
}

// --- inserts on the caller's sql::Connection ----------------------------------------------------

namespace {

Notifier insert_mysql(EventsTable::Impl& t, sql::Connection& conn,
                      std::span<const NewEvent> events) {
  if (t.dialect != Dialect::mysql) {
    throw ConfigError("insert(sql::Connection&) on a " + std::string(to_string(t.dialect)) +
                      " events table: pass that database's transaction");
  }
  if (events.empty()) return t.notifier();
  for (const auto& e : events) t.check(e);
  try {
    // The server status of the last reply says it: no round trip.
    if (conn.getAutoCommit()) {
      throw ConfigError(
          "insert needs a transaction: call setAutoCommit(false) on the connection "
          "so that the event commits with your change");
    }
    auto* mysql = dynamic_cast<sql::mysql::MySQL_Connection*>(&conn);
    if (mysql == nullptr) throw ConfigError("insert(sql::Connection&) needs a MySQL connection");
    const bool metadata = !t.options.schema.metadata_column.empty();
    const bool trace = !t.options.schema.trace_column.empty();
    // One statement with literal values: a prepared statement would cost an extra round trip.
    // Text is escaped by the connection (its charset); bytes go as hex literals.
    std::string sql =
        "INSERT INTO " + t.quoted_table + " (" + t.insert_columns(false) + ") VALUES ";
    for (std::size_t i = 0; i < events.size(); ++i) {
      const auto& e = events[i];
      sql += i ? ", ('" : "('";
      sql += mysql->escapeString(e.foreign_id.str()).asStdString();
      sql += "', ";
      sql += std::to_string(e.type);
      if (metadata) sql += ", " + detail::hex_literal(e.metadata);
      if (trace) sql += ", " + detail::hex_literal(e.trace);
      sql += ')';
    }
    std::unique_ptr<sql::Statement> st(conn.createStatement());
    try {
      st->execute(sql);
    } catch (...) {
      detail::rethrow_mysql(nullptr);
    }
  } catch (const ConfigError&) {
    throw;
  } catch (...) {
    detail::rethrow_insert_error(t.options.schema.table, t.dialect);
  }
  return t.notifier();
}

}  // namespace

Notifier EventsTable::insert(sql::Connection& transaction, const NewEvent& event) const {
  return insert_mysql(*impl_, transaction, std::span<const NewEvent>(&event, 1));
}

Notifier EventsTable::insert_batch(sql::Connection& transaction,
                                   std::span<const NewEvent> events) const {
  return insert_mysql(*impl_, transaction, events);
}

}  // namespace reflex::rsql
