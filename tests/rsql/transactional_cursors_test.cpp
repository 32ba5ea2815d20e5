// Transactional cursors on any dialect (the executable's backend): the consumer's effects and its
// cursor commit in one transaction, so nothing is applied twice and nothing is lost.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "backend.hpp"
#include "reflex/errors.hpp"
#include "reflex/reflex.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test::rsql {
namespace {

using namespace std::chrono_literals;
using reflex::Event;
using reflex::rpatterns::CursorRef;
using reflex::rpatterns::TransactionalOptions;

std::vector<Event> numbered(int first, int last) {
  std::vector<Event> out;
  for (int i = first; i <= last; ++i) {
    out.push_back(Event{.id = std::to_string(i), .type = 1, .foreign_id = "f" + std::to_string(i)});
  }
  return out;
}

class TransactionalCursors : public ::testing::Test, protected FreshEvents {
 protected:
  TransactionalCursors() {
    db->create_cursors_table({.table = cursors_table});
    db->create_shards_tables({.table = shards_table, .members_table = shards_table + "_members"});
    db->execute("CREATE TABLE " + effects + " (event_id BIGINT NOT NULL)");
    cursors = backend->transactional_cursors(
        {.cursors = {.table = cursors_table},
         .shards = {.table = shards_table, .members_table = shards_table + "_members"}});
  }

  /// Inserts one effect row per event in the handed transaction.
  HandleFunc insert_effects(std::vector<std::string>* seen = nullptr) {
    return [this, seen](Handle& handle, std::span<const Event> events) {
      for (const auto& e : events) {
        handle.exec("INSERT INTO " + effects + " (event_id) VALUES (" + e.id + ")");
        if (seen) seen->push_back(e.id);
      }
    };
  }

  /// The applied event ids, ascending (duplicates kept).
  std::vector<std::string> applied() {
    auto rows = backend->query("SELECT event_id FROM " + effects + " ORDER BY event_id");
    return rows;
  }

  static std::vector<std::string> range(int first, int last) {
    std::vector<std::string> out;
    for (int i = first; i <= last; ++i) out.push_back(std::to_string(i));
    return out;
  }

  const std::string cursors_table = unique_name("txc");
  const std::string shards_table = unique_name("txs");
  const std::string effects = unique_name("effects");
  const CursorRef ref{.name = "ledger"};
  std::unique_ptr<TxCursors> cursors;
};

TEST_F(TransactionalCursors, EffectsAndCursorCommitTogether) {
  EXPECT_EQ(cursors->get(ref), "");
  const auto events = numbered(1, 3);
  cursors->commit(ref, events, insert_effects());
  EXPECT_EQ(applied(), range(1, 3));
  EXPECT_EQ(cursors->get(ref), "3");
  cursors->commit(ref, numbered(4, 5), insert_effects());
  EXPECT_EQ(applied(), range(1, 5));
  EXPECT_EQ(cursors->get(ref), "5");
}

TEST_F(TransactionalCursors, AThrowingApplyLeavesNeitherEffectsNorCursor) {
  cursors->commit(ref, numbered(1, 2), insert_effects());
  const auto fail = [&](Handle& handle, std::span<const Event> events) {
    insert_effects()(handle, events);
    throw std::runtime_error("the consumer failed");
  };
  EXPECT_THROW(cursors->commit(ref, numbered(3, 5), fail), std::runtime_error);
  EXPECT_EQ(applied(), range(1, 2));
  EXPECT_EQ(cursors->get(ref), "2");
  // The failed batch commits in full when it is delivered again.
  cursors->commit(ref, numbered(3, 5), insert_effects());
  EXPECT_EQ(applied(), range(1, 5));
}

TEST_F(TransactionalCursors, AReplayedBatchIsSkippedAndApplySeesOnlyFreshEvents) {
  cursors->commit(ref, numbered(1, 3), insert_effects());
  std::vector<std::string> seen;
  cursors->commit(ref, numbered(2, 5), insert_effects(&seen));
  EXPECT_EQ(seen, range(4, 5));
  seen.clear();
  int calls = 0;
  cursors->commit(ref, numbered(1, 5), [&](Handle&, std::span<const Event>) { ++calls; });
  EXPECT_EQ(calls, 0) << "a batch committed before must not reach the consumer";
  EXPECT_EQ(applied(), range(1, 5));
  EXPECT_EQ(cursors->get(ref), "5");
}

TEST_F(TransactionalCursors, ANonNumericCursorSkipsUpToTheEventWithItsId) {
  const std::vector<Event> events = {{.id = "a", .type = 1}, {.id = "b", .type = 1}};
  std::vector<std::string> seen;
  const auto record = [&](Handle&, std::span<const Event> fresh) {
    for (const auto& e : fresh) seen.push_back(e.id);
  };
  cursors->commit(ref, std::span(events).first(1), record);
  cursors->commit(ref, events, record);
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(cursors->get(ref), "b");
}

TEST_F(TransactionalCursors, TwoRunnersOfOneConsumerNeverApplyAnEventTwice) {
  constexpr int kEvents = 200;
  constexpr int kBatch = 10;
  const auto events = numbered(1, kEvents);
  std::atomic<int> conflicts{0};
  std::atomic<int> unexpected{0};
  const auto runner = [&] {
    auto own = backend->transactional_cursors(
        {.cursors = {.table = cursors_table},
         .shards = {.table = shards_table, .members_table = shards_table + "_members"}});
    for (int first = 0; first < kEvents; first += kBatch) {
      const auto batch = std::span(events).subspan(static_cast<std::size_t>(first), kBatch);
      for (int attempt = 0;; ++attempt) {
        try {
          own->commit(ref, batch, insert_effects());
          break;
        } catch (const reflex::CursorConflict&) {
          ++conflicts;  // both inserted the first cursor row: one batch rolled back
        } catch (const reflex::Error& e) {
          if (!e.retryable() || attempt > 50) {
            ++unexpected;
            ADD_FAILURE() << e.what();
            return;
          }
        }
      }
    }
  };
  std::jthread a(runner);
  std::jthread b(runner);
  a.join();
  b.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(applied(), range(1, kEvents));
  EXPECT_EQ(cursors->get(ref), std::to_string(kEvents));
}

TEST_F(TransactionalCursors, AShardRefWithAStaleTokenIsCursorConflictAndAppliesNothing) {
  auto producer = backend->producer();
  producer->begin();
  producer->exec("INSERT INTO " + shards_table +
                 " (consumer, shard, token) VALUES ('ledger', 3, 7)");
  producer->commit();
  const CursorRef stale{.name = "ledger", .shard = 3, .token = 6};
  try {
    cursors->commit(stale, numbered(1, 2), insert_effects());
    ADD_FAILURE() << "a stale token committed";
  } catch (const reflex::CursorConflict& e) {
    EXPECT_NE(std::string(e.what()).find("fenced out"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(applied().empty());
  EXPECT_EQ(cursors->get(stale), "");

  const CursorRef holder{.name = "ledger", .shard = 3, .token = 7};
  cursors->commit(holder, numbered(1, 2), insert_effects());
  EXPECT_EQ(applied(), range(1, 2));
  EXPECT_EQ(cursors->get(holder), "2");
  EXPECT_EQ(cursors->get(ref), "") << "a shard's cursor is not the unsharded consumer's";
  EXPECT_THROW(
      cursors->commit({.name = "ledger", .shard = 4, .token = 7}, numbered(3, 3), insert_effects()),
      reflex::CursorConflict)
      << "a shard without a row has no lease to hold";
}

TEST_F(TransactionalCursors, RunOfATransactionalSpecAppliesEveryEventOnceInOrder) {
  EventsTable table(db, {.schema = {.table = name}});
  std::vector<NewEvent> batch;
  for (int i = 0; i < 250; ++i) batch.push_back(NewEvent{.foreign_id = i, .type = 1});
  insert_committed(*backend, table, batch);
  const auto ids = read_to_head(table);
  ASSERT_EQ(ids.size(), 250u);

  std::vector<std::string> seen;
  const auto spec =
      cursors->spec(table.stream_func(), ref, insert_effects(&seen),
                    TransactionalOptions{.max_batch = 32, .stream = {.to_head = true}});
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  std::vector<std::string> expected;
  for (const auto& e : ids) expected.push_back(e.id);
  EXPECT_EQ(seen, expected) << "in stream order, each once";
  EXPECT_EQ(applied().size(), 250u);
  EXPECT_EQ(cursors->get(ref), ids.back().id);

  // A second run starts after the committed cursor: nothing is applied again.
  seen.clear();
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(applied().size(), 250u);
}

TEST_F(TransactionalCursors, AFailedBatchEndsTheRunAndTheNextRunAppliesItOnce) {
  EventsTable table(db, {.schema = {.table = name}});
  std::vector<NewEvent> batch;
  for (int i = 0; i < 20; ++i) batch.push_back(NewEvent{.foreign_id = i, .type = 1});
  insert_committed(*backend, table, batch);
  bool fail = true;
  const auto spec = cursors->spec(
      table.stream_func(), ref,
      [&](Handle& handle, std::span<const Event> events) {
        insert_effects()(handle, events);
        if (fail && events.back().id_int() >= 10) throw std::runtime_error("not now");
      },
      TransactionalOptions{.max_batch = 5, .stream = {.to_head = true}});
  EXPECT_THROW(reflex::run({}, spec), reflex::ConsumeError);
  fail = false;
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(applied().size(), 20u);
  auto rows = applied();
  EXPECT_EQ(std::adjacent_find(rows.begin(), rows.end()), rows.end()) << "an event applied twice";
}

TEST_F(TransactionalCursors, AMissingCursorsTableIsASchemaErrorNamingItsDdl) {
  auto missing = backend->transactional_cursors({.cursors = {.table = unique_name("nocursors")}});
  try {
    missing->commit(ref, numbered(1, 1), insert_effects());
    ADD_FAILURE() << "committed without a cursors table";
  } catch (const reflex::rsql::SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("cursors_ddl"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(applied().empty());
}

TEST_F(TransactionalCursors, BadOptionsAreConfigErrors) {
  EventsTable table(db, {.schema = {.table = name}});
  const auto apply = insert_effects();
  EXPECT_THROW((void)cursors->spec(table.stream_func(), CursorRef{}, apply, {}),
               reflex::ConfigError);
  EXPECT_THROW(
      (void)cursors->spec(table.stream_func(), ref, apply, {.max_batch = 10, .window = 0ms}),
      reflex::ConfigError);
  EXPECT_THROW((void)cursors->spec(table.stream_func(), ref, apply, {.max_batch = 0}),
               reflex::ConfigError);
  EXPECT_NO_THROW(
      (void)cursors->spec(table.stream_func(), ref, apply, {.max_batch = 1, .window = 0ms}));
  EXPECT_THROW((void)backend->transactional_cursors({.cursors = {.table = "no such"}}),
               reflex::ConfigError);
}

}  // namespace
}  // namespace reflex_test::rsql
