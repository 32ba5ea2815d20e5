#include "reader.hpp"

#include <algorithm>
#include <span>
#include <string>

#include "error_mapping.hpp"
#include "sql_text.hpp"
#include "values.hpp"

namespace reflex::rsql::detail {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

ReadResult Reader::read(std::int64_t after, std::size_t limit) {
  for (int attempt = 0;; ++attempt) {
    try {
      return read_checked(after, limit);
    } catch (...) {
      // A session that was idle in the pool and lost its connection (the server restarted) is
      // replaced once: a read can run again, and the stream sees only the server as it is now.
      bool stale = false;
      try {
        throw;
      } catch (const DatabaseError& e) {
        stale = attempt == 0 && session_ && session_->reused() &&
                e.kind() == DatabaseErrorKind::connection;
      } catch (...) {
      }
      // The next read asks the server again what it is (a standby may have been promoted).
      policy_.reset();
      forget_broken();
      if (stale) {
        session_.reset();
        continue;
      }
      rethrow_with_schema_hint(table_->options.schema.table, "events_ddl", table_->dialect);
    }
  }
}

std::int64_t Reader::head() {
  try {
    std::int64_t id = 0;
    const std::string sql = "SELECT MAX(" +
                            quote(table_->dialect, table_->options.schema.id_column) + ") FROM " +
                            table_->quoted_table;
    session().query(sql, {}, [&](const Row& row) {
      if (!row.is_null(0)) id = row.int64(0);
    });
    return id;
  } catch (...) {
    forget_broken();
    rethrow_with_schema_hint(table_->options.schema.table, "events_ddl", table_->dialect);
  }
}

void Reader::release() noexcept {
  if (!session_) return;
  policy_.reset();
  session_.reset();
}

void Reader::forget_broken() noexcept {
  if (session_ && (*session_)->broken()) {
    session_.reset();
    policy_.reset();
  }
}

Session& Reader::session() {
  if (!session_) {
    session_.emplace(table_->pool.lease());
    policy_.reset();
  }
  return **session_;
}

GapPolicy& Reader::policy() {
  if (!policy_) {
    // Made for reads only: head() needs no gap decisions (nor, on a standby, a primary).
    auto policy = table_->driver.make_gap_policy(table_->context);
    policy->on_connect(session());
    policy_ = std::move(policy);
  }
  return *policy_;
}

ReadResult Reader::read_checked(std::int64_t after, std::size_t limit) {
  auto& metrics = *table_->context.metrics;
  auto& gap = *table_->context.gap;
  const bool has_metadata = !table_->options.schema.metadata_column.empty();
  const bool has_trace = !table_->options.schema.trace_column.empty();
  for (int attempt = 0;; ++attempt) {
    rows_.clear();
    ids_.clear();
    // Loaded before the query: ids up to it are final, so every committed one among them is in
    // the query's snapshot. A value raised by another reader after our snapshot was taken does
    // not cover commits our snapshot missed.
    const std::int64_t settled = policy().settled(gap);
    const auto started = Clock::now();
    const Param params[] = {after, static_cast<std::int64_t>(limit)};
    session().query(table_->select_sql, params, [&](const Row& row) {
      ids_.push_back(row.int64(0));
      Event& e = rows_.emplace_back();
      e.type = static_cast<int>(row.int64(1));
      e.foreign_id = row.text(2);
      // int64() of NULL is 0 and text() of NULL is empty: no separate NULL checks per row.
      e.timestamp = from_micros(row.int64(3));
      int column = 4;
      if (has_metadata) e.metadata = row.text(column++);
      if (has_trace) e.trace = row.text(column);
    });
    metrics.on_poll(Clock::now() - started, rows_.size());

    ReadResult result;
    result.position = after;
    result.full = rows_.size() >= limit;
    result.events.reserve(rows_.size());
    std::int64_t prev = after;
    // Holes up to here need no decision: below `settled`, or passed together with an earlier one.
    std::int64_t complete = settled;
    bool reread = false;
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      const std::int64_t id = ids_[i];
      if (id != prev + 1 && id > complete) {
        const HoleVerdict verdict =
            policy().on_hole(session(), Hole{.prev = prev,
                                             .ids = std::span(ids_).subspan(i),
                                             .rows = std::span(rows_).subspan(i)});
        if (verdict.decision == HoleDecision::reread && attempt < 3) {
          reread = true;
          break;
        }
        if (verdict.decision != HoleDecision::pass) {
          note_blocked(prev);
          result.blocked = true;
          result.retry_at = verdict.retry_at;
          result.full = false;
          break;
        }
        complete = std::max(complete, verdict.through);
      }
      if (!is_noop(rows_[i].type, rows_[i].foreign_id)) {
        rows_[i].id = std::to_string(id);
        result.events.push_back(std::move(rows_[i]));
      }
      prev = id;
    }
    if (reread) {
      // The horizon moved or the hole was filled: what we read past it may be incomplete.
      after = prev;
      if (!result.events.empty() || prev != result.position) {
        result.position = prev;
        note_passed(prev);
        return result;
      }
      continue;
    }
    result.position = prev;
    if (!result.blocked) note_passed(prev);
    return result;
  }
}

void Reader::note_blocked(std::int64_t at) {
  auto& gap = *table_->context.gap;
  std::lock_guard lock(gap.mutex);
  const auto now = Clock::now();
  if (gap.hole_at != at) {
    gap.hole_at = at;
    gap.hole_since = now;
    table_->context.metrics->on_gap_detected();
  }
  table_->context.metrics->set_blocked(now - gap.hole_since);
  table_->context.metrics->set_blocker(gap.blocker_pid);
}

void Reader::note_passed(std::int64_t position) {
  auto& gap = *table_->context.gap;
  std::lock_guard lock(gap.mutex);
  if (gap.hole_at >= 0 && position > gap.hole_at) {
    gap.hole_at = -1;
    table_->context.metrics->on_gap_filled();
    table_->context.metrics->set_blocked(std::chrono::nanoseconds{0});
    table_->context.metrics->set_blocker(0);
  }
}

}  // namespace reflex::rsql::detail
