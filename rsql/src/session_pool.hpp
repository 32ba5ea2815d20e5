#pragma once
// A small pool of sessions for the short statements of reflex's own tables (cursors, errors,
// publish, retention): a few idle connections are kept; a broken one is discarded.

#include <memory>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "driver.hpp"
#include "error_mapping.hpp"
#include "reflex/rsql/errors.hpp"

namespace reflex::rsql::detail {

/// Thread-safety: every member may be called from any thread. Lifetime: leases must not outlive
/// the pool; the pool keeps its driver alive.
class SessionPool final {
 public:
  /// Keeps up to `max_idle` idle sessions; more are closed when given back.
  explicit SessionPool(std::shared_ptr<Driver> driver, std::size_t max_idle = 4)
      : driver_(std::move(driver)), max_idle_(max_idle) {}

  /// A borrowed session, given back on destruction unless broken.
  class Lease final {
   public:
    Lease(SessionPool* pool, std::unique_ptr<Session> session, bool reused)
        : pool_(pool), session_(std::move(session)), reused_(reused) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease() {
      if (pool_ && session_) pool_->give_back(std::move(session_));
    }
    Session& operator*() const { return *session_; }
    Session* operator->() const { return session_.get(); }
    /// The session was idle in the pool (its server may have restarted meanwhile).
    [[nodiscard]] bool reused() const noexcept { return reused_; }
    /// Closes the session instead of giving it back: its connection failed in a statement the
    /// session did not run itself (a caller's, on the driver handle), so it may not know.
    void discard() noexcept { session_.reset(); }

   private:
    SessionPool* pool_;
    std::unique_ptr<Session> session_;
    bool reused_;
  };

  /// Borrows an idle session, or connects when none is idle.
  [[nodiscard]] Lease lease();
  [[nodiscard]] Driver& driver() const noexcept { return *driver_; }

 private:
  void give_back(std::unique_ptr<Session> session);

  std::shared_ptr<Driver> driver_;
  const std::size_t max_idle_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Session>> idle_;
};

/// Runs `fn(session)` on a pooled session; a missing table or column becomes a SchemaError naming
/// `table` and `ddl_helper`. A session that was idle in the pool and turns out broken (the server
/// restarted) is replaced once by a fresh connection, so callers see only failures of the server
/// as it is now; `fn` must therefore be safe to run again after a connection failure (reflex's
/// table writes are).
template <class Fn>
auto with_table_session(SessionPool& pool, std::string_view table, std::string_view ddl_helper,
                        Dialect dialect, Fn&& fn) {
  try {
    for (int attempt = 0;; ++attempt) {
      auto session = pool.lease();
      try {
        return fn(*session);
      } catch (const DatabaseError& e) {
        if (attempt > 0 || !session.reused() || e.kind() != DatabaseErrorKind::connection) throw;
      }
    }
  } catch (...) {
    rethrow_with_schema_hint(table, ddl_helper, dialect);
  }
}

/// Leases a session and begins a transaction on it. A session that was idle in the pool and fails
/// to begin (the server restarted) is replaced once by a fresh connection; nothing else is retried.
[[nodiscard]] inline SessionPool::Lease begin_transaction(SessionPool& pool) {
  for (int attempt = 0;; ++attempt) {
    auto session = pool.lease();
    try {
      session->begin();
      return session;
    } catch (const DatabaseError& e) {
      if (attempt > 0 || !session.reused() || e.kind() != DatabaseErrorKind::connection) throw;
    }
  }
}

/// Runs `fn(session)` inside a transaction on a pooled session and commits; rolls back when `fn`
/// throws. Unlike with_table_session, nothing is run again once the transaction began: a
/// connection lost after that leaves the commit in doubt, so it is the caller's to decide (only
/// the begin is retried, as begin_transaction does). Missing tables and columns become
/// SchemaErrors as in with_table_session.
template <class Fn>
void with_table_transaction(SessionPool& pool, std::string_view table, std::string_view ddl_helper,
                            Dialect dialect, Fn&& fn) {
  try {
    auto session = begin_transaction(pool);
    try {
      fn(*session);
      session->commit();
    } catch (...) {
      session->rollback();
      throw;
    }
  } catch (...) {
    rethrow_with_schema_hint(table, ddl_helper, dialect);
  }
}

}  // namespace reflex::rsql::detail
