#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>

#include "reflex/consumer.hpp"
#include "reflex/event.hpp"
#include "reflex/rpatterns/export.hpp"
#include "reflex/run.hpp"

namespace reflex::rpatterns {

/// The cursor a transactional commit moves: without `shard`, the cursor of consumer `name`; with
/// it, the cursor of that shard of the shared consumer `name` (shared.hpp), which moves only while
/// `token` holds the shard's lease (its fencing token).
struct CursorRef {
  std::string name{};
  std::optional<std::size_t> shard{};
  std::uint64_t token = 0;
};

/// Applies the effects of `events` (those not applied before, in stream order) on `transaction`,
/// the handle of the driver, as the producer API takes it: `pqxx::transaction_base&`,
/// `sql::Connection&` or `sqlite3*`. It must not commit or roll back: the caller does.
template <class Transaction>
using ApplyFunc = std::function<void(Transaction transaction, std::span<const Event> events)>;

/// Cursors that commit together with a consumer's effects, in one transaction of the database that
/// holds both, so that a crash leaves both or neither: the effects of each event happen exactly
/// once however often the event is delivered. Implementations: rsql's `transactional_cursors`
/// (`<reflex/rsql/postgres.hpp>`, `mysql.hpp`, `sqlite.hpp`).
///
/// Thread-safety: implementations shipped with reflex may be called from any thread.
/// Lifetime: must outlive the specs using it.
template <class Transaction>
class TransactionalCursors {
 public:
  virtual ~TransactionalCursors() = default;

  /// The committed cursor of `ref` ("" when none).
  [[nodiscard]] virtual std::string get(const CursorRef& ref) = 0;

  /// In one transaction: locks the cursor of `ref`, drops the events at or before it (a replay:
  /// their effects are committed already), calls `apply` with the transaction and the rest (not
  /// at all when none is left), moves the cursor to the last of `events` and commits. Anything
  /// thrown rolls all of it back and propagates. A shard whose lease `ref.token` no longer holds
  /// is CursorConflict (fenced out), with nothing applied.
  virtual void commit(const CursorRef& ref, std::span<const Event> events,
                      const ApplyFunc<Transaction>& apply) = 0;
};

/// The consumer function of a transactional spec: applies `events` (one batch, in stream order,
/// none applied before) on `transaction`. Throwing rolls the batch back and fails the run.
template <class Transaction>
using TransactionalConsumeFunc =
    std::function<void(std::stop_token, Transaction transaction, std::span<const Event> events)>;

/// Options of transactional_spec.
struct TransactionalOptions {
  /// At most this many events per transaction (1: one transaction per event).
  std::size_t max_batch = 100;
  /// A partial batch commits this long after its first event arrived (zero: only when full,
  /// which needs max_batch 1 to ever commit on a quiet stream, so zero with max_batch > 1 is a
  /// ConfigError).
  std::chrono::milliseconds window{5};
  /// Only events it accepts reach the consumer; the others only move the cursor.
  EventFilter filter{};
  StreamOptions stream{};
};

namespace detail {
/// What transactional_spec builds, with the transaction type erased.
struct TransactionalHooks {
  std::function<std::string()> get;
  std::function<void(std::stop_token, std::span<const Event>)> commit;
};
[[nodiscard]] REFLEX_RPATTERNS_EXPORT Spec transactional_spec(StreamFunc stream, std::string name,
                                                              TransactionalHooks hooks,
                                                              TransactionalOptions options);
}  // namespace detail

/// A spec whose consumer's effects and cursor commit in one transaction: exactly-once effects
/// for consumers that write to the database of `cursors`. Run it with reflex::run (or any
/// runner) like any spec. Events are grouped into batches (options) that commit on a worker
/// thread of the run while the run reads ahead; the cursor reported to the runner is the last
/// committed. A replayed event (a restarted source, a redelivery, a second runner) is recognised
/// by its committed cursor and skipped. A failure rolls the batch back and ends the run with
/// ConsumeError; nothing of the batch is applied.
///
/// "Exactly once" covers the effects `fn` makes through the transaction; anything else it does
/// (a mail, an HTTP call) happens at least once. Throws ConfigError for an empty name, a null
/// store, an empty `fn`, max_batch 0, or window 0 with max_batch > 1.
template <class Transaction>
[[nodiscard]] Spec transactional_spec(StreamFunc stream,
                                      std::shared_ptr<TransactionalCursors<Transaction>> cursors,
                                      CursorRef ref, TransactionalConsumeFunc<Transaction> fn,
                                      TransactionalOptions options = {}) {
  detail::TransactionalHooks hooks;
  if (cursors) hooks.get = [cursors, ref] { return cursors->get(ref); };
  if (cursors && fn) {
    hooks.commit = [cursors, ref, fn = std::move(fn)](std::stop_token stop,
                                                      std::span<const Event> events) {
      cursors->commit(ref, events,
                      [&](Transaction tx, std::span<const Event> fresh) { fn(stop, tx, fresh); });
    };
  }
  std::string name = ref.name;
  if (ref.shard) name += "#" + std::to_string(*ref.shard);
  return detail::transactional_spec(std::move(stream), std::move(name), std::move(hooks),
                                    std::move(options));
}

}  // namespace reflex::rpatterns
