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

#include <cstdint>
#include <string>

#include "driver.hpp"
#include "postgres/dialect.hpp"
#include "sql_text.hpp"

namespace reflex::rsql::detail {

namespace {

class PgPolicy final : public GapPolicy {
 public:
  explicit PgPolicy(const TableContext& table)
      : gap_(table.gap),
        metrics_(table.metrics),
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

  HoleVerdict on_hole(Session& session, const Hole& hole) override {
    return {decide(session, hole.next()), hole.next()};
  }

 private:
  HoleDecision decide(Session& session, std::int64_t next) {
    auto& g = *gap_;
    std::lock_guard lock(g.mutex);
    // A pending probe may predate `next` (drawn after it): then a second, fresh probe covers it,
    // since `next` is visible and so was drawn before the fresh probe reads the sequence.
    for (int round = 0; round < 2; ++round) {
      if (next <= g.settled.load()) return HoleDecision::reread;
      if (!g.probe_pending) {
        g.probe_limit = scalar(session, last_value_sql_);
        // Not a snapshot's xmax: that is one past the newest *completed* xid, and a transaction
        // with a newer xid may still be running. A fresh xid bounds every xid assigned before.
        // Taking an xid makes this statement a committing transaction: no WAL flush wait. The
        // setting is the statement's own (a session-wide SET would outlive it on a pooled
        // server session and slow down, or weaken, its next client's commits).
        g.probe_xmax = scalar(session,
                              "SELECT pg_current_xact_id()::text::bigint, "
                              "set_config('synchronous_commit', 'off', true)");
        metrics_->on_hole_probe(0);
        g.probe_pending = true;
        g.probe_since = std::chrono::steady_clock::now();
      }
      const std::int64_t xmin =
          scalar(session, "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint");
      if (xmin < g.probe_xmax) {
        g.blocker_pid = oldest_writer_before(session, g.probe_xmax);
        if (g.blocker_pid >= 0) return HoleDecision::block;
      }
      g.blocker_pid = 0;
      g.probe_pending = false;
      if (g.probe_limit > g.settled.load()) {
        g.settled.store(g.probe_limit, std::memory_order_release);
      }
    }
    return next <= g.settled.load() ? HoleDecision::reread : HoleDecision::block;
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
  std::string last_value_sql_;
  std::string writers_sql_;
};

}  // namespace

std::unique_ptr<GapPolicy> make_pg_gap_policy(const TableContext& table) {
  return std::make_unique<PgPolicy>(table);
}

}  // namespace reflex::rsql::detail
