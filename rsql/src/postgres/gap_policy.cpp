// Gap safety on PostgreSQL, the project's key algorithm for this dialect: a reader never passes
// a hole in the ids that a transaction still running may fill, and it writes nothing to find out.
//
// Holes are resolved by the transaction-id horizon. The events table's id default first makes the
// inserting transaction take an xid (pg_current_xact_id()) and only then draws the id (nextval,
// CACHE 1). On a hole, a probe reads M = the sequence's last drawn value and then, in a later
// statement, takes a fresh xid X of its own (xids are assigned in increasing order). Every id <= M
// was drawn before M was read, by a transaction whose xid was assigned before that: its xid < X.
// Once the oldest transaction still running is >= X (xmin of a fresh snapshot), every such
// transaction has ended, so every id <= M is final: committed (and visible to any later read) or
// never to appear. The settled horizon moves to M and the reader reads again.
//
// Only the transactions that wrote the events table matter, though, and waiting for the oldest
// transaction of the whole server would let any long write elsewhere (a batch job, a migration,
// a session left idle in a transaction) stall every stream. So when the horizon says "not yet",
// the probe asks which transactions older than X still hold a lock on the events table. An id
// is drawn only by the table's id default, inside an INSERT (or COPY) into the table, which
// holds RowExclusiveLock on it from before it evaluates the default until its transaction ends;
// and the transaction took its xid (held as a lock on its own transactionid, in pg_locks too)
// before it drew the id. So a transaction that can still commit an id <= M holds both locks,
// its xid precedes X, and pg_locks shows it while it runs; one that holds no lock on the table
// or whose xid is X or newer cannot. pg_locks is the lock manager's own view: visible to every
// role (pg_stat_activity hides other roles' xids) and covering prepared transactions, which keep
// their locks under a virtual transaction of their own.
//
// A fresh hole is probed only after its grace (gap_grace.cpp, on_hole below): most holes at the
// head fill within it, when the commit in flight lands and wakes the stream, and a probe of such
// a hole would only have cost its statements and an xid.
//
// Reading from a standby (DatabaseOptions::primary_dsn). A standby cannot take an xid and its
// pg_locks shows none of the primary's writers, so the hole is decided on the primary, exactly as
// above, on one connection per table; the standby only reads. An id missing on the standby may
// belong to a transaction still running on the primary, to one that rolled back, or to one that
// committed on the primary but whose commit the standby has not replayed yet: the decision on
// the primary says "every id <= M is final there", which rules out the first and says nothing of
// the third. So the decision also records L, the primary's WAL insert position read after it.
// Every transaction that committed an id <= M ended before the decision, and a transaction
// writes its commit record before it releases its locks or leaves the running set, so that record
// ends at or before L. The standby makes a commit visible to its snapshots once it has replayed
// the commit record, and pg_last_wal_replay_lsn() is the end of the last record replayed: once a
// standby session reads a replay position >= L, every later snapshot of it sees every committed
// id <= M, and the others never appear. Only then does M become that session's horizon; until
// then the stream stops before the hole (and the read after it re-reads the range). L is the
// insert position, not pg_current_wal_lsn(): that is the write position, which an asynchronous
// commit may be ahead of. Replay only grows while a session lives (a restarted or other standby
// is a new session, which checks again before it relies on the shared horizon).
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "driver.hpp"
#include "postgres/dialect.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/errors.hpp"
#include "sql_text.hpp"

namespace reflex::rsql::detail {

namespace {

/// The sizes of a WAL page header: of a segment's first page, and of the others.
constexpr std::int64_t kLongPageHeader = 40;
constexpr std::int64_t kShortPageHeader = 24;

class PgPolicy final : public GapPolicy {
 public:
  PgPolicy(const TableContext& table, PrimaryConnect primary, std::string primary_shown)
      : gap_(table.gap),
        metrics_(table.metrics),
        table_(table.schema.table),
        grace_(table.gap_grace),
        connect_primary_(std::move(primary)),
        primary_shown_(std::move(primary_shown)),
        last_value_sql_("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM " +
                        quote(Dialect::postgres, table.schema.table + "_id_seq")),
        // The table name is a validated identifier, quoted: safe inside the literal.
        writers_sql_(
            "SELECT DISTINCT x.transactionid::text::bigint, coalesce(r.pid, 0) FROM pg_locks r "
            "JOIN pg_locks x ON "
            "x.virtualtransaction = r.virtualtransaction WHERE r.locktype = 'relation' AND "
            "r.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND "
            "r.relation = '" +
            quote(Dialect::postgres, table.schema.table) +
            "'::regclass AND r.mode = 'RowExclusiveLock' AND x.locktype = 'transactionid'") {}

  void on_connect(Session& session) override {
    standby_ = scalar(session, "SELECT CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END") != 0;
    if (standby_ && !connect_primary_) {
      throw ConfigError(
          "PostgreSQL server of events table '" + table_ +
          "' is a standby (in recovery): a stream there decides holes in the ids on the "
          "primary; set DatabaseOptions::primary_dsn to the primary's DSN (reflexctl: "
          "--primary DSN)");
    }
  }

  std::int64_t settled(const GapState& gap) const override {
    return standby_ ? confirmed_ : gap.settled.load(std::memory_order_acquire);
  }

  HoleVerdict on_hole(Session& session, const Hole& hole) override {
    const std::int64_t next = hole.next();
    {
      // A hole about to fill is read again, not probed (gap_grace.cpp): most are a commit in
      // flight, and its wake-up comes before a probe would have answered. Old holes get the
      // grace too, unlike on MariaDB: one probe here settles every id drawn so far, so a
      // catch-up over many old holes waits it once. (The rows' timestamps could not tell old
      // from fresh anyway: now() is when their transaction began.)
      std::lock_guard lock(gap_->mutex);
      if (next > settled(*gap_)) {
        if (const auto end = grace_end(*gap_, grace_, hole)) {
          return {.decision = HoleDecision::block, .through = next, .retry_at = end};
        }
      }
    }
    return {.decision = standby_ ? decide_on_standby(session, next) : decide(session, next),
            .through = next};
  }

 private:
  HoleDecision decide(Session& session, std::int64_t next) {
    auto& g = *gap_;
    std::lock_guard lock(g.mutex);
    // A pending probe may predate `next` (drawn after it): then a second, fresh probe covers it,
    // since `next` is visible and so was drawn before the fresh probe reads the sequence.
    for (int round = 0; round < 2; ++round) {
      if (next <= g.settled.load()) return HoleDecision::reread;
      // Nobody waits for the probe's commit to be durable.
      if (!probe_final(session, "off")) return HoleDecision::block;
      if (g.probe_limit > g.settled.load()) {
        g.settled.store(g.probe_limit, std::memory_order_release);
      }
    }
    return next <= g.settled.load() ? HoleDecision::reread : HoleDecision::block;
  }

  /// On a standby: the primary decides, the standby's replay position says when the decision
  /// holds for this session (see the top of this file).
  HoleDecision decide_on_standby(Session& standby, std::int64_t next) {
    auto& g = *gap_;
    std::lock_guard lock(g.mutex);
    // Each step either answers or moves: a horizon confirmed, a decision replayed, a probe
    // decided. A pending decision may predate `next`: a fresh probe after it covers `next`.
    for (int step = 0; step < 4; ++step) {
      if (next <= confirmed_) return HoleDecision::reread;
      if (g.settled.load() > confirmed_) {
        if (replayed(standby) < g.settled_lsn) return HoleDecision::block;
        confirmed_ = g.settled.load();
        continue;
      }
      if (g.replay_pending) {
        if (replayed(standby) < g.replay_lsn) return HoleDecision::block;
        if (g.replay_limit > g.settled.load()) {
          g.settled.store(g.replay_limit, std::memory_order_release);
          g.settled_lsn = g.replay_lsn;
        }
        g.replay_pending = false;
        confirmed_ = std::max(confirmed_, g.replay_limit);  // this session replayed it
        continue;
      }
      Session& primary = primary_session();
      std::int64_t lsn = 0;
      try {
        // Flushed locally: the probe's commit record lies before the decision's WAL position,
        // and the standby receives WAL only once it is flushed, which an asynchronous commit
        // could put off for wal_writer_delay.
        if (!probe_final(primary, "local")) return HoleDecision::block;
        lsn = scalar(primary, "SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint");
      } catch (const DatabaseError& e) {
        if (primary.broken()) g.primary.reset();
        throw DatabaseError(e.kind(),
                            "deciding a hole on the primary " + primary_shown_ + ": " + e.what());
      }
      g.replay_pending = true;
      g.replay_limit = g.probe_limit;
      g.replay_lsn = replay_target(lsn);
    }
    return next <= confirmed_ ? HoleDecision::reread : HoleDecision::block;
  }

  /// Starts a probe on `session` unless one is pending, and says whether every id up to its
  /// limit (g.probe_limit) is final on that server now; if not, notes the oldest writer that
  /// may still fill one. The probe's own commit runs with synchronous_commit `commit`. Needs
  /// gap_->mutex.
  bool probe_final(Session& session, std::string_view commit) {
    auto& g = *gap_;
    if (!g.probe_pending) {
      g.probe_limit = scalar(session, last_value_sql_);
      // Not a snapshot's xmax: that is one past the newest *completed* xid, and a transaction
      // with a newer xid may still be running. A fresh xid bounds every xid assigned before.
      // Taking an xid makes this statement a committing transaction. The setting is the
      // statement's own (a session-wide SET would outlive it on a pooled server session and
      // slow down, or weaken, its next client's commits).
      g.probe_xmax = scalar(session,
                            "SELECT pg_current_xact_id()::text::bigint, "
                            "set_config('synchronous_commit', '" +
                                std::string(commit) + "', true)");
      metrics_->on_hole_probe(0);
      g.probe_pending = true;
      g.probe_since = std::chrono::steady_clock::now();
    }
    const std::int64_t xmin =
        scalar(session, "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint");
    if (xmin < g.probe_xmax) {
      g.blocker_pid = oldest_writer_before(session, g.probe_xmax);
      if (g.blocker_pid >= 0) return false;
    }
    g.blocker_pid = 0;
    g.probe_pending = false;
    return true;
  }

  /// The table's connection to the primary (connected on first use, again after it broke).
  Session& primary_session() {
    auto& g = *gap_;
    if (!g.primary) {
      auto session = connect_primary_();
      g.wal_page = 0;
      g.wal_segment = 0;
      session->query(
          "SELECT current_setting('wal_block_size')::bigint, "
          "(SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size')",
          {}, [&](const Row& row) {
            g.wal_page = row.int64(0);
            g.wal_segment = row.int64(1);
          });
      g.primary = std::move(session);
    }
    return *g.primary;
  }

  /// The replay position that covers every record before insert position `lsn`. At a page's
  /// first byte after its header, the last record ended at the page boundary, and a standby's
  /// replay position may stop there: waiting for `lsn` itself would wait for the next record,
  /// which an idle primary may never write.
  std::int64_t replay_target(std::int64_t lsn) const {
    const auto& g = *gap_;
    if (g.wal_page <= 0 || g.wal_segment <= 0) return lsn;
    const std::int64_t header =
        lsn % g.wal_segment < g.wal_page ? kLongPageHeader : kShortPageHeader;
    return lsn % g.wal_page == header ? lsn - header : lsn;
  }

  /// The standby's replay position (bytes of WAL). A server that left recovery (promoted) has
  /// none: its sessions are no longer a standby's, so the stream fails and reconnects.
  std::int64_t replayed(Session& standby) {
    std::int64_t lsn = -1;
    standby.query("SELECT (pg_last_wal_replay_lsn() - '0/0')::bigint", {}, [&](const Row& row) {
      if (!row.is_null(0)) lsn = row.int64(0);
    });
    if (lsn < 0) {
      throw DatabaseError(DatabaseErrorKind::connection,
                          "postgres: the standby of events table '" + table_ +
                              "' left recovery (promoted): reading it again as it is now");
    }
    return lsn;
  }

  /// The backend pid of the oldest transaction whose xid precedes `xid` (a full xid8) and that
  /// holds a RowExclusiveLock on the events table (0 for a prepared transaction, which has no
  /// backend); -1 when there is none. pg_locks shows 32-bit xids: they are compared modulo 2^32,
  /// as PostgreSQL does, which is exact since no running transaction is 2^31 xids old.
  std::int64_t oldest_writer_before(Session& session, std::int64_t xid) {
    const auto bound = static_cast<std::uint32_t>(static_cast<std::uint64_t>(xid));
    std::int64_t pid = -1;
    std::int32_t oldest = 0;
    session.query(writers_sql_, {}, [&](const Row& row) {
      const auto held = static_cast<std::uint32_t>(static_cast<std::uint64_t>(row.int64(0)));
      const auto distance = static_cast<std::int32_t>(held - bound);
      if (distance < 0 && (pid < 0 || distance < oldest)) {
        oldest = distance;
        pid = row.int64(1);
      }
    });
    return pid;
  }

  static std::int64_t scalar(Session& session, const std::string& sql) {
    std::int64_t value = 0;
    session.query(sql, {}, [&](const Row& row) { value = row.int64(0); });
    return value;
  }

  std::shared_ptr<GapState> gap_;
  std::shared_ptr<TableMetrics> metrics_;
  std::string table_;
  std::chrono::milliseconds grace_;
  PrimaryConnect connect_primary_;
  std::string primary_shown_;
  std::string last_value_sql_;
  std::string writers_sql_;
  /// This session's server is a standby (on_connect).
  bool standby_ = false;
  /// On a standby: the horizon this session has replayed the decision of.
  std::int64_t confirmed_ = 0;
};

}  // namespace

std::unique_ptr<GapPolicy> make_pg_gap_policy(const TableContext& table, PrimaryConnect primary,
                                              std::string primary_shown) {
  return std::make_unique<PgPolicy>(table, std::move(primary), std::move(primary_shown));
}

}  // namespace reflex::rsql::detail
