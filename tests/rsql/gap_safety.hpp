#pragma once
// The gap-safety check every dialect passes (gap_safety_test.cpp), and PostgreSQL passes again
// with an unrelated transaction held open (postgres_horizon_test.cpp): never skip a committed
// event, never deliver one twice or out of the table's id order, never a rolled-back one.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backend.hpp"
#include "reflex/reflex.hpp"
#include "reflex_test/wait.hpp"

namespace reflex_test::rsql {

namespace gap_safety_detail {
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using reflex_test::eventually;

struct Seen {
  std::vector<std::int64_t> ids;
  std::vector<std::string> foreign_ids;
  std::atomic<std::size_t> count{0};  // the vectors' size, for others to watch while it reads
};

/// 16 writers commit out of id order for `write_for` (random transaction lengths, rollbacks,
/// multi-event and long transactions) while 3 readers follow the head of the table `name`, and
/// 2 more on `replica` when given (a standby of `db`, opened with its primary); then checks that
/// every reader got every committed event exactly once, in the table's id order, and never a
/// rolled-back one. Returns the longest time a reader of `db` was held at one hole.
inline std::chrono::nanoseconds check_gap_safety(
    Backend& backend, std::shared_ptr<reflex::rsql::Database> db, const std::string& name,
    std::chrono::milliseconds write_for,
    std::shared_ptr<reflex::rsql::Database> replica = nullptr) {
  constexpr int kWriters = 16;
  const int kPrimaryReaders = 3;
  const int kReaders = kPrimaryReaders + (replica ? 2 : 0);
  const auto kWriteFor = write_for;
  auto recorder = std::make_shared<TableRecorder>();
  // Small batches and fast polls make readers hit the head (and its holes) often. No gap grace
  // (MariaDB's default): every hole is probed at once, racing the writers.
  EventsTable table(
      db,
      EventsTableOptions{
          .schema = {.table = name}, .batch_size = 20, .poll_interval = 2ms, .metrics = recorder});
  std::unique_ptr<EventsTable> on_replica;
  if (replica) {
    on_replica = std::make_unique<EventsTable>(
        replica,
        EventsTableOptions{.schema = {.table = name}, .batch_size = 20, .poll_interval = 2ms});
    // The standby has the table once it replayed its creation.
    EXPECT_TRUE(eventually(
        [&] {
          try {
            on_replica->check();
            return true;
          } catch (const reflex::rsql::SchemaError&) {
            return false;
          }
        },
        10s))
        << "the standby never replayed the events table's creation";
  }

  std::stop_source stop_readers;
  std::vector<Seen> seen(kReaders);
  std::vector<std::jthread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      const EventsTable& source = r < kPrimaryReaders ? table : *on_replica;
      auto stream = source.stream(stop_readers.get_token(), "");
      try {
        for (;;) {
          const auto e = stream->recv();
          seen[r].ids.push_back(e.id_int());
          seen[r].foreign_ids.push_back(e.foreign_id);
          ++seen[r].count;
        }
      } catch (const reflex::Canceled&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << "reader " << r << ": " << e.what();
      }
    });
  }

  std::mutex committed_mutex;
  std::set<std::string> committed;
  std::set<std::string> rolled_back;
  std::atomic<int> failures{0};
  const auto deadline = Clock::now() + kWriteFor;
  std::vector<std::jthread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937 rng(static_cast<unsigned>(w) * 7919u + 1);
      auto producer = backend.producer();
      int tx = 0;
      while (Clock::now() < deadline) {
        ++tx;
        // A few long transactions (writer 0, every 10th), some with several events.
        const bool long_tx = w == 0 && tx % 10 == 0;
        const int events = std::uniform_int_distribution<int>(0, 4)(rng) == 0
                               ? std::uniform_int_distribution<int>(2, 4)(rng)
                               : 1;
        const auto hold =
            long_tx ? 400ms
                    : std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 50)(rng));
        const bool rollback = std::uniform_int_distribution<int>(0, 19)(rng) == 0;
        std::vector<std::string> ids;
        try {
          producer->begin();
          reflex::rsql::Notifier notify;
          for (int i = 0; i < events; ++i) {
            ids.push_back("w" + std::to_string(w) + "-" + std::to_string(tx) + "-" +
                          std::to_string(i));
            notify = producer->insert(table, NewEvent{.foreign_id = ids.back(), .type = 1});
            if (i == 0 && hold.count() > 0) std::this_thread::sleep_for(hold);
          }
          if (rollback) {
            producer->rollback();
            std::lock_guard lock(committed_mutex);
            rolled_back.insert(ids.begin(), ids.end());
          } else {
            producer->commit();
            {
              std::lock_guard lock(committed_mutex);
              committed.insert(ids.begin(), ids.end());
            }
            notify();
          }
        } catch (const std::exception& e) {
          // A failed commit (e.g. a deadlock victim) is a rollback; anything else is a failure.
          try {
            producer->rollback();
          } catch (...) {
          }
          if (!reflex::is_retryable(e)) {
            ADD_FAILURE() << "writer " << w << ": " << e.what();
            ++failures;
            return;
          }
          std::lock_guard lock(committed_mutex);
          rolled_back.insert(ids.begin(), ids.end());
        }
      }
    });
  }
  for (auto& writer : writers) writer.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(committed.size(), 100u) << "too little traffic to prove anything";
  EXPECT_FALSE(rolled_back.empty()) << "no rollback happened";

  // Readers catch up, bounded in time: each has as many events as were committed (which ones, and
  // in which order, is checked below; readers' vectors are theirs until they stop).
  (void)eventually(
      [&] {
        return std::all_of(seen.begin(), seen.end(),
                           [&](const Seen& s) { return s.count >= committed.size(); });
      },
      15s);
  // A reader that would deliver an event twice at the very end shows it now.
  std::this_thread::sleep_for(100ms);
  stop_readers.request_stop();
  for (auto& reader : readers) reader.join();

  // The table's own order, read after everything settled.
  std::vector<std::int64_t> table_ids;
  std::set<std::string> table_foreign;
  for (const auto& e : read_to_head(table)) {
    table_ids.push_back(e.id_int());
    table_foreign.insert(e.foreign_id);
  }
  std::string missing;
  for (const auto& id : committed) {
    if (!table_foreign.count(id) && missing.size() < 200) missing += id + " ";
  }
  EXPECT_TRUE(missing.empty()) << "committed but not streamed: " << missing;
  EXPECT_EQ(table_ids.size(), committed.size());

  for (int r = 0; r < kReaders; ++r) {
    SCOPED_TRACE("reader " + std::to_string(r) + (r < kPrimaryReaders ? "" : " (on the standby)"));
    const auto& s = seen[r];
    const std::set<std::string> got(s.foreign_ids.begin(), s.foreign_ids.end());
    EXPECT_EQ(got.size(), s.foreign_ids.size()) << "an event was delivered twice";
    EXPECT_EQ(got, committed) << "delivered events differ from the committed ones";
    for (const auto& id : s.foreign_ids) {
      EXPECT_EQ(rolled_back.count(id), 0u) << "rolled-back event delivered: " << id;
    }
    EXPECT_EQ(s.ids, table_ids) << "not the table's id order";
  }
  ::testing::Test::RecordProperty("committed", static_cast<int>(committed.size()));
  ::testing::Test::RecordProperty("gaps_detected", recorder->get().gaps_detected.load());
  return std::chrono::nanoseconds(recorder->get().max_blocked_ns.load());
}

}  // namespace gap_safety_detail

using gap_safety_detail::check_gap_safety;

}  // namespace reflex_test::rsql
