#pragma once
// One test source, several databases: each rsql test executable links exactly one backend_*.cpp
// that connects to its dialect (a temp-file SQLite, or the throwaway PostgreSQL/MariaDB servers
// started by scripts/services) and opens producer transactions the way a service would.

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/rpatterns/transactional.hpp"
#include "reflex/rsql/rsql.hpp"
#include "reflex/run.hpp"

namespace reflex_test::rsql {

// The rsql names every test here uses.
using reflex::rsql::Database;
using reflex::rsql::EventsTable;
using reflex::rsql::EventsTableOptions;
using reflex::rsql::NewEvent;

/// A producer's own connection and transaction (what a service holds when it inserts events).
class Producer {
 public:
  virtual ~Producer() = default;
  virtual void begin() = 0;
  virtual reflex::rsql::Notifier insert(const reflex::rsql::EventsTable& table,
                                        const reflex::rsql::NewEvent& event) = 0;
  virtual reflex::rsql::Notifier insert_batch(const reflex::rsql::EventsTable& table,
                                              std::span<const reflex::rsql::NewEvent> events) = 0;
  /// Runs plain SQL inside the open transaction (a producer that does not use reflex).
  virtual void exec(const std::string& sql) = 0;
  /// Records (source, event_id) in the inbox inside the open transaction (the dialect's record).
  virtual bool record(const reflex::rsql::Inbox& inbox, std::string_view source,
                      std::string_view event_id) = 0;
  virtual void commit() = 0;
  virtual void rollback() = 0;
};

/// The driver handle a transactional cursor hands its consumer, for plain SQL (the effects).
class Handle {
 public:
  virtual ~Handle() = default;
  virtual void exec(const std::string& sql) = 0;
};
using HandleFunc = std::function<void(Handle& handle, std::span<const reflex::Event> events)>;

/// The dialect's transactional cursors (rsql::transactional_cursors<its handle>), the handle
/// wrapped as a Handle, so one test body runs on every dialect.
class TxCursors {
 public:
  virtual ~TxCursors() = default;
  [[nodiscard]] virtual std::string get(const reflex::rpatterns::CursorRef& ref) = 0;
  virtual void commit(const reflex::rpatterns::CursorRef& ref,
                      std::span<const reflex::Event> events, const HandleFunc& apply) = 0;
  /// rpatterns::transactional_spec on these cursors, its consumer calling `fn`.
  [[nodiscard]] virtual reflex::Spec spec(reflex::StreamFunc stream,
                                          reflex::rpatterns::CursorRef ref, HandleFunc fn,
                                          reflex::rpatterns::TransactionalOptions options) = 0;
};

/// TxCursors on the dialect's cursors, `H` being the Handle made from its `Transaction`.
template <class Transaction, class H>
class TxCursorsOf final : public TxCursors {
 public:
  explicit TxCursorsOf(
      std::shared_ptr<reflex::rpatterns::TransactionalCursors<Transaction>> cursors)
      : cursors_(std::move(cursors)) {}
  std::string get(const reflex::rpatterns::CursorRef& ref) override { return cursors_->get(ref); }
  void commit(const reflex::rpatterns::CursorRef& ref, std::span<const reflex::Event> events,
              const HandleFunc& apply) override {
    cursors_->commit(ref, events, [&](Transaction tx, std::span<const reflex::Event> fresh) {
      H handle(tx);
      apply(handle, fresh);
    });
  }
  reflex::Spec spec(reflex::StreamFunc stream, reflex::rpatterns::CursorRef ref, HandleFunc fn,
                    reflex::rpatterns::TransactionalOptions options) override {
    return reflex::rpatterns::transactional_spec<Transaction>(
        std::move(stream), cursors_, std::move(ref),
        [fn = std::move(fn)](std::stop_token, Transaction tx,
                             std::span<const reflex::Event> events) {
          H handle(tx);
          fn(handle, events);
        },
        std::move(options));
  }

 private:
  std::shared_ptr<reflex::rpatterns::TransactionalCursors<Transaction>> cursors_;
};

/// A database of one dialect for one test.
class Backend {
 public:
  virtual ~Backend() = default;
  [[nodiscard]] virtual reflex::rsql::Dialect dialect() const = 0;
  /// DSN of the test database.
  [[nodiscard]] virtual std::string dsn() const = 0;
  [[nodiscard]] virtual std::unique_ptr<Producer> producer() = 0;
  [[nodiscard]] virtual std::unique_ptr<TxCursors> transactional_cursors(
      reflex::rsql::TransactionalCursorsOptions options) = 0;
  /// The first column of every row of `sql`, as text, on a connection of its own.
  [[nodiscard]] virtual std::vector<std::string> query(const std::string& sql) = 0;

  [[nodiscard]] std::shared_ptr<reflex::rsql::Database> database() {
    if (!database_) database_ = reflex::rsql::Database::open(dsn());
    return database_;
  }

 private:
  std::shared_ptr<reflex::rsql::Database> database_;
};

/// The backend this executable tests.
std::unique_ptr<Backend> make_backend();

/// This executable's backend and its database: what every rsql fixture starts from. Opening the
/// database connects nothing yet (the first statement does).
struct OnBackend {
  std::unique_ptr<Backend> backend = make_backend();
  std::shared_ptr<reflex::rsql::Database> db = backend->database();
};

/// OnBackend with a fresh events table (the default schema) named `name`, unique to the test
/// (`<prefix>_<pid>_<n>`); created by the constructor, which fails the test when it cannot.
struct FreshEvents : OnBackend {
  explicit FreshEvents(const std::string& prefix = "events");
  std::string name;
};

/// Every event of `table` after `after` up to the head (a to_head stream read to its end).
std::vector<reflex::Event> read_to_head(const reflex::rsql::EventsTable& table,
                                        std::string_view after = "");

/// Inserts events in one committed transaction and notifies.
void insert_committed(Backend& backend, const reflex::rsql::EventsTable& table,
                      std::span<const reflex::rsql::NewEvent> events);

}  // namespace reflex_test::rsql

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "reflex/metrics.hpp"

namespace reflex_test::rsql {

/// Follows a table on a thread, collecting foreign ids.
class Follower {
 public:
  explicit Follower(const reflex::rsql::EventsTable& table) {
    thread_ = std::jthread([this, table](std::stop_token stop) {
      auto stream = table.stream(stop, "");
      try {
        for (;;) {
          const auto e = stream->recv();
          std::lock_guard lock(mutex_);
          got_.push_back(e.foreign_id);
          arrived_.notify_all();
        }
      } catch (const reflex::Canceled&) {
      }
    });
  }
  std::vector<std::string> got() {
    std::lock_guard lock(mutex_);
    return got_;
  }
  /// Waits until `n` events arrived, at most `limit` (woken by each arrival, no polling);
  /// returns how long it waited. Callers check got() afterwards.
  std::chrono::steady_clock::duration wait_for(
      std::size_t n, std::chrono::steady_clock::duration limit = std::chrono::seconds(5)) {
    const auto started = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, limit, [&] { return got_.size() >= n; });
    return std::chrono::steady_clock::now() - started;
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<std::string> got_;
  std::jthread thread_;
};

/// Records what an events table reports (polls, gaps, blocking), for assertions.
class TableRecorder final : public reflex::MetricsObserver {
 public:
  class Table final : public reflex::TableMetrics {
   public:
    void on_poll(std::chrono::nanoseconds, std::size_t) noexcept override {
      const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::steady_clock::now().time_since_epoch())
                           .count();
      const auto last = last_poll_at_ns.exchange(now);
      if (last != 0) last_poll_gap_ns = now - last;
      ++polls;
    }
    void on_gap_detected() noexcept override { ++gaps_detected; }
    void on_gap_filled() noexcept override { ++gaps_filled; }
    void on_hole_probe(std::size_t ids) noexcept override {
      ++probes;
      probe_ids += static_cast<long long>(ids);
    }
    void set_blocked(std::chrono::nanoseconds held) noexcept override {
      ++blocked_reports;
      blocked_ns = held.count();
      if (held.count() > max_blocked_ns) max_blocked_ns = held.count();
    }
    std::atomic<int> polls{0};
    /// Time between the last two polls: how far an idle stream's backoff has grown, for tests
    /// that must wait until it reached its idle interval.
    std::atomic<long long> last_poll_gap_ns{0};
    std::atomic<long long> last_poll_at_ns{0};  // steady_clock
    [[nodiscard]] std::chrono::nanoseconds last_poll_gap() const {
      return std::chrono::nanoseconds(last_poll_gap_ns.load());
    }
    std::atomic<int> gaps_detected{0};
    std::atomic<int> gaps_filled{0};
    std::atomic<int> probes{0};
    std::atomic<long long> probe_ids{0};
    /// One per read held back by a hole, plus one per hole passed (the gauge back to zero).
    std::atomic<int> blocked_reports{0};
    std::atomic<long long> blocked_ns{0};
    std::atomic<long long> max_blocked_ns{0};
  };
  std::shared_ptr<reflex::ConsumerMetrics> consumer(
      std::string_view, const reflex::ConsumerMetricsOptions&) override {
    return reflex::null_consumer_metrics();
  }
  std::shared_ptr<reflex::TableMetrics> table(std::string_view) override { return table_; }
  [[nodiscard]] Table& get() const { return *table_; }

 private:
  std::shared_ptr<Table> table_ = std::make_shared<Table>();
};

}  // namespace reflex_test::rsql
