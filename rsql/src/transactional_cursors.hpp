#pragma once
// Transactional cursors on reflex's own sessions, written once for every dialect: each dialect's
// factory (postgres/, mysql/, sqlite/exactly_once.cpp) only says how a Session hands out the
// driver's transaction handle and how the driver's errors become rsql's.

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "driver.hpp"
#include "reflex/rsql/database.hpp"
#include "reflex/rsql/transactional_cursors.hpp"
#include "session_pool.hpp"

namespace reflex::rsql::detail {

/// The dialect-neutral commit of transactional cursors (rpatterns::TransactionalCursors), with the
/// consumer's effects applied on the Session of the transaction.
///
/// Thread-safety: every member may be called from any thread (each call leases its own session).
/// Lifetime: keeps its database alive.
class TransactionalCursorsCore final {
 public:
  /// ConfigError unless `database` is of `dialect` (`factory` names the caller's factory).
  TransactionalCursorsCore(std::shared_ptr<Database> database, TransactionalCursorsOptions options,
                           Dialect dialect, std::string_view factory);

  using Apply = std::function<void(Session& session, std::span<const Event> fresh)>;

  [[nodiscard]] std::string get(const rpatterns::CursorRef& ref);
  void commit(const rpatterns::CursorRef& ref, std::span<const Event> events, const Apply& apply);

 private:
  /// The statements of one kind of cursor row (a consumer's, a shard's).
  struct Statements {
    std::string select, lock, update, insert;
  };
  /// Runs `fn`, a missing table or column becoming a SchemaError about the table of `ref`.
  template <class Fn>
  auto hinted(const rpatterns::CursorRef& ref, Fn&& fn);
  [[nodiscard]] const std::string& table(const rpatterns::CursorRef& ref) const;
  [[nodiscard]] std::string describe(const rpatterns::CursorRef& ref) const;

  std::shared_ptr<Database> database_;
  TransactionalCursorsOptions options_;
  Dialect dialect_;
  SessionPool pool_;
  std::shared_ptr<TableMetrics> cursor_metrics_, shard_metrics_;
  Statements consumer_, shard_;
};

/// rpatterns::TransactionalCursors for the driver handle `Transaction`: `handle` gets it from a
/// session of the dialect, `map_error` turns a driver exception being handled into a DatabaseError
/// (others propagate unchanged), so a deadlock in the consumer's own statements is retryable.
template <class Transaction>
class TransactionalCursorsOf final : public rpatterns::TransactionalCursors<Transaction> {
 public:
  using Handle = Transaction (*)(Session&);
  using MapError = void (*)();

  TransactionalCursorsOf(std::shared_ptr<Database> database, TransactionalCursorsOptions options,
                         Dialect dialect, std::string_view factory, Handle handle,
                         MapError map_error)
      : core_(std::move(database), std::move(options), dialect, factory),
        handle_(handle),
        map_error_(map_error) {}

  std::string get(const rpatterns::CursorRef& ref) override { return core_.get(ref); }

  void commit(const rpatterns::CursorRef& ref, std::span<const Event> events,
              const rpatterns::ApplyFunc<Transaction>& apply) override {
    core_.commit(ref, events, [&](Session& session, std::span<const Event> fresh) {
      try {
        apply(handle_(session), fresh);
      } catch (...) {
        map_error_();
        throw;
      }
    });
  }

 private:
  TransactionalCursorsCore core_;
  Handle handle_;
  MapError map_error_;
};

}  // namespace reflex::rsql::detail
