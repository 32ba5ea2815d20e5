// Gap safety on MariaDB/MySQL, the project's key algorithm for this dialect: a reader never
// passes a hole in the ids that an insert still running may fill.
//
// Resolves a hole by probing its ids with the locks InnoDB already has: in one transaction,
// INSERT IGNORE a no-op row for every missing id. An id still held by an uncommitted insert makes
// the probe wait for that transaction: if it commits, its row wins (the duplicate is ignored); if
// it rolls back, the probe's row takes the id. An id that is free is taken too, and the probe
// commits its no-op rows for good: an insert may have drawn that id from auto-increment and not
// yet written its row (neither row nor lock exists in between), and such an insert must fail with
// a duplicate key rather than commit behind a reader that has passed it. A probe that found every
// id already committed writes nothing. When the probe returns, every id up to the hole's end is
// final: committed and visible to the next read, or a no-op row. A holder that keeps its
// transaction open longer than the session's lock wait timeout (1 s) makes the probe fail: the
// stream stays before the hole and probes again later.
// (information_schema.innodb_trx cannot serve instead: it is a cache that concurrent readers keep
// from refreshing.)

#include <algorithm>
#include <string>
#include <vector>

#include "driver.hpp"
#include "mysql/dialect.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/errors.hpp"
#include "sql_text.hpp"

namespace reflex::rsql::detail {

namespace {

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
    // Give an in-flight writer the grace to commit before probing its id (gap_grace.cpp). A
    // writer in the hole before row i drew its id before row i was written: once that is older
    // than the grace (an old hole met in a catch-up), the grace is over, since each fresh hole
    // probed here costs a probe of its own. A clock that is off only moves a probe earlier or
    // later.
    const auto now = std::chrono::system_clock::now();
    const bool fresh = now - hole.rows.front().timestamp < grace_;
    auto& g = *gap_;
    {
      std::lock_guard lock(g.mutex);
      if (next <= g.settled.load()) return {.decision = HoleDecision::reread, .through = next};
      if (const auto end = fresh ? grace_end(g, grace_, hole) : std::nullopt) {
        return {.decision = HoleDecision::block, .through = next, .retry_at = end};
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
                            "ids with no-op rows (see docs/rsql.md, gap safety). GRANT SELECT, "
                            "INSERT ON the table TO the reader's user. Database said: " +
                            e.what());
        }
        if (e.kind() != DatabaseErrorKind::transient) throw;
        if (at == 0) return {.decision = HoleDecision::block, .through = next};  // still held
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
    // Every probed id was free (none committed, none held): nothing can appear in those holes
    // any more, so what this read holds up to `through` is complete. Otherwise read again.
    if (whole && inserted == probed) return {.decision = HoleDecision::pass, .through = through};
    return {.decision = HoleDecision::reread, .through = next};
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

}  // namespace

std::unique_ptr<GapPolicy> make_mysql_gap_policy(const TableContext& table) {
  return std::make_unique<MySqlPolicy>(table);
}

}  // namespace reflex::rsql::detail
