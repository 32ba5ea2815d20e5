// The events table on any dialect (the executable's backend): inserts in the producer's
// transaction, streams, head cache, wake-ups, and the errors a user can act on.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "backend.hpp"
#include "reflex/errors.hpp"
#include "reflex/reflex.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/wait.hpp"

namespace reflex_test::rsql {
namespace {

using namespace std::chrono_literals;
using reflex::Event;
using reflex::HeadReached;
using reflex::StreamOptions;
using reflex::rsql::EventsSchema;
using reflex_test::eventually;

class Outbox : public ::testing::Test, protected FreshEvents {
 protected:
  EventsTable make_table(EventsTableOptions options = {}) {
    options.schema.table = name;
    return EventsTable(db, options);
  }
};

TEST_F(Outbox, StreamsCommittedEventsInOrderWithEveryField) {
  auto table = make_table();
  auto producer = backend->producer();
  producer->begin();
  auto notify = producer->insert(table, NewEvent{.foreign_id = "user-1", .type = 1});
  (void)producer->insert(
      table,
      NewEvent{
          .foreign_id = 42, .type = 2, .metadata = std::string("m\0x", 3), .trace = "00-abc-01"});
  producer->commit();
  notify();

  const auto before = std::chrono::system_clock::now();
  const auto events = read_to_head(table);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].foreign_id, "user-1");
  EXPECT_EQ(events[0].type, 1);
  EXPECT_EQ(events[0].metadata, "");
  EXPECT_EQ(events[1].foreign_id, "42");
  EXPECT_EQ(events[1].type, 2);
  EXPECT_EQ(events[1].metadata, std::string("m\0x", 3));
  EXPECT_EQ(events[1].trace, "00-abc-01");
  EXPECT_LT(events[0].id_int(), events[1].id_int());
  for (const auto& e : events) {
    EXPECT_LT(std::chrono::abs(e.timestamp - before), 60s) << "timestamp " << e.id;
  }
  EXPECT_EQ(table.head(), events[1].id);
}

TEST_F(Outbox, NeverStreamsARolledBackEvent) {
  auto table = make_table();
  auto producer = backend->producer();
  producer->begin();
  (void)producer->insert(table, NewEvent{.foreign_id = "rolled-back", .type = 1});
  producer->rollback();
  producer->begin();
  (void)producer->insert(table, NewEvent{.foreign_id = "kept", .type = 1});
  producer->commit();

  const auto events = read_to_head(table);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].foreign_id, "kept");
}

TEST_F(Outbox, BatchInsertStreamsEveryEventInOrderAcrossReads) {
  auto table = make_table(EventsTableOptions{.batch_size = 100});
  std::vector<NewEvent> batch;
  for (int i = 0; i < 2500; ++i) batch.push_back(NewEvent{.foreign_id = i, .type = 1 + i % 3});
  insert_committed(*backend, table, batch);

  const auto events = read_to_head(table);
  ASSERT_EQ(events.size(), batch.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(events[i].foreign_id, std::to_string(i));
    ASSERT_EQ(events[i].type, 1 + static_cast<int>(i) % 3);
    if (i) {
      ASSERT_LT(events[i - 1].id_int(), events[i].id_int());
    }
  }
}

TEST_F(Outbox, ABatchKeepsEveryMetadataAndTraceByteExactly) {
  auto table = make_table();
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  std::vector<NewEvent> batch;
  // Large enough for the dialect's bulk path (COPY on PostgreSQL), and one small batch too.
  for (int i = 0; i < 40; ++i) {
    batch.push_back(NewEvent{.foreign_id = "tab\there\\" + std::to_string(i),
                             .type = i,
                             .metadata = i % 2 ? every_byte : std::string(),
                             .trace = "00-trace-" + std::to_string(i)});
  }
  insert_committed(*backend, table, batch);
  insert_committed(*backend, table, std::span<const NewEvent>(batch).first(2));
  const auto events = read_to_head(table);
  ASSERT_EQ(events.size(), 42u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& want = batch[i % 40];
    EXPECT_EQ(events[i].foreign_id, want.foreign_id.str()) << i;
    EXPECT_EQ(events[i].type, want.type) << i;
    EXPECT_EQ(events[i].metadata, want.metadata) << i;
    EXPECT_EQ(events[i].trace, want.trace) << i;
  }
}

TEST_F(Outbox, StreamsOnlyEventsAfterTheCursor) {
  auto table = make_table();
  std::vector<NewEvent> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(NewEvent{.foreign_id = i, .type = 1});
  insert_committed(*backend, table, batch);
  const auto all = read_to_head(table);
  ASSERT_EQ(all.size(), 10u);

  const auto rest = read_to_head(table, all[6].id);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].id, all[7].id);
  EXPECT_EQ(rest[2].id, all[9].id);
  EXPECT_TRUE(read_to_head(table, all[9].id).empty());
}

TEST_F(Outbox, ToHeadOnAnEmptyTableEndsAtOnce) {
  auto table = make_table();
  std::stop_source stop;
  auto stream = table.stream(stop.get_token(), "", StreamOptions{.to_head = true});
  const auto started = std::chrono::steady_clock::now();
  EXPECT_THROW((void)stream->recv(), HeadReached);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

TEST_F(Outbox, FromHeadStartsAfterTheNewestEvent) {
  auto table = make_table(EventsTableOptions{.poll_interval = 20ms});
  const NewEvent old[] = {NewEvent{.foreign_id = "old", .type = 1}};
  insert_committed(*backend, table, old);

  std::stop_source stop;
  auto stream = table.stream(stop.get_token(), "", StreamOptions{.from_head = true});
  const NewEvent fresh[] = {NewEvent{.foreign_id = "new", .type = 1}};
  insert_committed(*backend, table, fresh);
  EXPECT_EQ(stream->recv().foreign_id, "new");
}

TEST_F(Outbox, LagDeliversAnEventOnlyOnceItIsOldEnough) {
  auto table = make_table(EventsTableOptions{.poll_interval = 10ms});
  const NewEvent one[] = {NewEvent{.foreign_id = "lagged", .type = 1}};
  insert_committed(*backend, table, one);
  std::stop_source stop;
  auto stream = table.stream(stop.get_token(), "", StreamOptions{.lag = 400ms});
  const Event e = stream->recv();
  EXPECT_EQ(e.foreign_id, "lagged");
  EXPECT_GE(std::chrono::system_clock::now() - e.timestamp, 400ms);
}

TEST_F(Outbox, PlainSqlInsertWithOnlyForeignIdAndTypeIsAValidEvent) {
  auto table = make_table();
  auto producer = backend->producer();
  producer->begin();
  producer->exec("INSERT INTO " + name + " (foreign_id, type) VALUES ('from-sql', 7)");
  producer->commit();
  table.notify();
  const auto events = read_to_head(table);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].foreign_id, "from-sql");
  EXPECT_EQ(events[0].type, 7);
  EXPECT_EQ(events[0].metadata, "");
  EXPECT_LT(std::chrono::abs(events[0].timestamp - std::chrono::system_clock::now()), 60s);
}

TEST_F(Outbox, NotifierWakesAWaitingStreamLongBeforeItsNextPoll) {
  auto table = make_table(EventsTableOptions{.poll_interval = 20s, .notified_poll_interval = 20s});
  std::stop_source stop;
  auto stream = table.stream(stop.get_token(), "");
  std::atomic<bool> got{false};
  std::jthread reader([&] {
    EXPECT_EQ(stream->recv().foreign_id, "wake");
    got = true;
  });
  // Let the stream go idle at the head (a behaviour, not a condition: the table keeps polling).
  // Its backoff doubles from 1 ms: by 1.1 s it waits 1,024 ms from 1,023 ms on, so without a
  // wake-up the event would be seen about 950 ms after its commit.
  std::this_thread::sleep_for(1100ms);
  const NewEvent one[] = {NewEvent{.foreign_id = "wake", .type = 1}};
  const auto committed = std::chrono::steady_clock::now();
  insert_committed(*backend, table, one);
  EXPECT_TRUE(eventually([&] { return got.load(); }, 5s)) << "the notifier did not wake the stream";
  EXPECT_LT(std::chrono::steady_clock::now() - committed, 400ms)
      << "delivered by the next poll, not by the notifier";
  stop.request_stop();
}

TEST_F(Outbox, StreamsCatchingUpSideBySideShareTheirReads) {
  // The shards of a consumer each read the whole stream from behind the head: a read one of them
  // made serves the others (the trail), instead of each querying every row.
  constexpr int kEvents = 3000;
  constexpr int kStreams = 6;
  auto writer = make_table();
  std::vector<NewEvent> events;
  for (int i = 0; i < kEvents; ++i) {
    events.push_back(NewEvent{.foreign_id = "e" + std::to_string(i), .type = 1});
  }
  insert_committed(*backend, writer, events);
  auto metrics = std::make_shared<TableRecorder>();
  auto table = make_table(EventsTableOptions{.batch_size = 100, .metrics = metrics});
  std::vector<std::vector<std::string>> got(kStreams);
  {
    std::vector<std::unique_ptr<reflex::StreamClient>> streams;
    for (int i = 0; i < kStreams; ++i) {
      streams.push_back(table.stream({}, "", {.to_head = true}));
    }
    std::vector<std::jthread> readers;
    for (int i = 0; i < kStreams; ++i) {
      readers.emplace_back([&, i] {
        try {
          for (;;) got[i].push_back(streams[i]->recv().foreign_id);
        } catch (const reflex::HeadReached&) {
        }
      });
    }
  }
  for (int i = 0; i < kStreams; ++i) {
    ASSERT_EQ(got[i].size(), static_cast<std::size_t>(kEvents)) << "stream " << i;
    for (int n = 0; n < kEvents; ++n) ASSERT_EQ(got[i][n], "e" + std::to_string(n));
  }
  // 30 reads of 100 rows serve all of them, with a few more where streams race; unshared it
  // would be 6 x 30.
  EXPECT_LE(metrics->get().polls.load(), 3 * kEvents / 100)
      << "streams behind the head do not share their reads";
}

TEST_F(Outbox, IdleStreamsAtTheHeadShareOneQueryPerPoll) {
  auto metrics = std::make_shared<TableRecorder>();
  auto table = make_table(EventsTableOptions{.poll_interval = 100ms, .metrics = metrics});
  constexpr int kStreams = 8;
  std::stop_source stop;
  std::vector<std::jthread> readers;
  std::atomic<int> received{0};
  std::atomic<int> opened{0};
  for (int i = 0; i < kStreams; ++i) {
    readers.emplace_back([&] {
      auto stream = table.stream(stop.get_token(), "");
      ++opened;
      try {
        for (;;) {
          (void)stream->recv();
          ++received;
        }
      } catch (const reflex::Canceled&) {
      }
    });
  }
  // Every stream is open and idle at the head: the backoff between polls has grown to its
  // 100 ms interval.
  EXPECT_TRUE(eventually([&] {
    return opened == kStreams && metrics->get().last_poll_gap() >= 90ms;
  })) << opened
      << " streams open; last poll gap " << metrics->get().last_poll_gap().count() << " ns";
  const int before = metrics->get().polls.load();
  std::this_thread::sleep_for(1s);  // the window whose polls are counted
  const int idle_polls = metrics->get().polls.load() - before;
  // One shared poll per 100 ms at most (plus slack); unshared it would be ~8 per 100 ms.
  EXPECT_LE(idle_polls, 15) << "streams at the head do not share their polls";

  const NewEvent one[] = {NewEvent{.foreign_id = "x", .type = 1}};
  insert_committed(*backend, table, one);
  EXPECT_TRUE(eventually([&] { return received == kStreams; }, 5s));
  EXPECT_EQ(received.load(), kStreams);
  stop.request_stop();
}

TEST_F(Outbox, StreamsNeverShareMutableEvents) {
  auto table = make_table();
  const NewEvent one[] = {NewEvent{.foreign_id = "shared", .type = 1, .metadata = "orig"}};
  insert_committed(*backend, table, one);
  std::stop_source stop;
  auto a = table.stream(stop.get_token(), "");
  auto b = table.stream(stop.get_token(), "");
  Event from_a = a->recv();
  from_a.metadata = "changed";
  EXPECT_EQ(b->recv().metadata, "orig");
}

TEST_F(Outbox, StopRequestEndsABlockedRecvPromptly) {
  auto table = make_table(EventsTableOptions{.poll_interval = 10s});
  std::stop_source stop;
  auto stream = table.stream(stop.get_token(), "");
  std::jthread stopper([&] {
    std::this_thread::sleep_for(100ms);  // recv is blocked by then (not observable)
    stop.request_stop();
  });
  const auto started = std::chrono::steady_clock::now();
  EXPECT_THROW((void)stream->recv(), reflex::Canceled);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

TEST_F(Outbox, RunDeliversEveryEventOnceAndStoresTheCursor) {
  auto table = make_table();
  db->create_cursors_table({.table = name + "_c"});
  auto cursors = std::make_shared<reflex::rsql::CursorsTable>(
      db, reflex::rsql::CursorsTableOptions{.schema = {.table = name + "_c"}});
  std::vector<NewEvent> batch;
  for (int i = 0; i < 50; ++i) batch.push_back(NewEvent{.foreign_id = i, .type = 1});
  insert_committed(*backend, table, batch);

  std::vector<std::string> seen;
  std::stop_source stop;
  auto consumer = reflex::make_consumer("counter", [&](std::stop_token, const Event& e) {
    seen.push_back(e.foreign_id);
    if (seen.size() == 30) stop.request_stop();
  });
  reflex::run(
      stop.get_token(),
      reflex::Spec{
          .stream = table.stream_func(), .cursors = cursors, .consumer = consumer, .options = {}});
  ASSERT_EQ(seen.size(), 30u);
  stop = std::stop_source();
  auto rest = reflex::make_consumer("counter", [&](std::stop_token, const Event& e) {
    seen.push_back(e.foreign_id);
    if (seen.size() == 50) stop.request_stop();
  });
  reflex::run(
      stop.get_token(),
      reflex::Spec{
          .stream = table.stream_func(), .cursors = cursors, .consumer = rest, .options = {}});
  ASSERT_EQ(seen.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(seen[i], std::to_string(i));
}

TEST_F(Outbox, PublishInsertsInATransactionOfItsOwnAllOrNothing) {
  auto table = make_table();
  const NewEvent good[] = {NewEvent{.foreign_id = "a", .type = 1, .metadata = "m"},
                           NewEvent{.foreign_id = "b", .type = 2}};
  table.publish(good);
  const NewEvent bad[] = {NewEvent{.foreign_id = "c", .type = 1},
                          NewEvent{.foreign_id = "", .type = 0}};
  EXPECT_THROW(table.publish(bad), reflex::ConfigError);
  const auto events = read_to_head(table);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].metadata, "m");
  EXPECT_EQ(events[1].foreign_id, "b");
}

// --- errors a user can act on -------------------------------------------------------------------

TEST_F(Outbox, StreamingAMissingTableNamesItAndTheDdlHelper) {
  EventsTable table(db, EventsTableOptions{.schema = {.table = "no_such_events"}});
  std::stop_source stop;
  try {
    auto stream = table.stream(stop.get_token(), "", StreamOptions{.to_head = true});
    (void)stream->recv();
    FAIL() << "expected SchemaError";
  } catch (const reflex::rsql::SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_events"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("events_ddl"), std::string::npos) << e.what();
    EXPECT_FALSE(e.retryable());
  }
  EXPECT_THROW(table.check(), reflex::rsql::SchemaError);
}

TEST_F(Outbox, InsertIntoAMissingTableNamesIt) {
  EventsTable table(db, EventsTableOptions{.schema = {.table = "no_such_events"}});
  auto producer = backend->producer();
  producer->begin();
  try {
    (void)producer->insert(table, NewEvent{.foreign_id = "x", .type = 1});
    FAIL() << "expected SchemaError";
  } catch (const reflex::rsql::SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_events"), std::string::npos) << e.what();
  }
  producer->rollback();
}

TEST_F(Outbox, AMissingColumnIsASchemaError) {
  auto table = make_table(EventsTableOptions{.schema = {.foreign_id_column = "entity"}});
  EXPECT_THROW(table.check(), reflex::rsql::SchemaError);
  EXPECT_NO_THROW(make_table().check());
}

TEST_F(Outbox, ANegativeGapGraceIsAConfigErrorThatNamesTheOption) {
  try {
    (void)make_table(EventsTableOptions{.gap_grace = -1ms});
    FAIL() << "a negative gap_grace was accepted";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("gap_grace"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW((void)make_table(EventsTableOptions{.gap_grace = 0ms}));
}

TEST_F(Outbox, MetadataForATableWithoutAMetadataColumnIsRejected) {
  const std::string bare = name + "_bare";
  db->create_events_table(EventsSchema{.table = bare, .metadata_column = "", .trace_column = ""});
  EventsTable table(
      db, EventsTableOptions{.schema = {.table = bare, .metadata_column = "", .trace_column = ""}});
  auto producer = backend->producer();
  producer->begin();
  EXPECT_THROW(
      (void)producer->insert(table, NewEvent{.foreign_id = "x", .type = 1, .metadata = "m"}),
      reflex::ConfigError);
  (void)producer->insert(table, NewEvent{.foreign_id = "y", .type = 1});
  producer->commit();
  const auto events = read_to_head(table);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].foreign_id, "y");
}

TEST_F(Outbox, OversizedMetadataIsRejectedAndNothingIsWritten) {
  auto table = make_table(EventsTableOptions{.max_metadata_bytes = 16});
  auto producer = backend->producer();
  producer->begin();
  try {
    (void)producer->insert(
        table, NewEvent{.foreign_id = "x", .type = 1, .metadata = std::string(17, 'm')});
    FAIL() << "expected ConfigError";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("max_metadata_bytes"), std::string::npos) << e.what();
  }
  producer->commit();
  EXPECT_TRUE(read_to_head(table).empty());
}

TEST_F(Outbox, ACursorThatIsNotAnIdIsACursorError) {
  auto table = make_table();
  std::stop_source stop;
  for (const char* bad : {"abc", "-1", "12x", "99999999999999999999"}) {
    EXPECT_THROW((void)table.stream(stop.get_token(), bad), reflex::CursorError) << bad;
  }
  // A cursor holding a line break is named on the error's one line, escaped.
  try {
    (void)table.stream(stop.get_token(), "12\nDROP");
    ADD_FAILURE() << "a cursor with a line break was accepted";
  } catch (const reflex::CursorError& e) {
    EXPECT_NE(std::string(e.what()).find(R"("12\nDROP")"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
}

TEST_F(Outbox, IdentifierInjectionIsRejectedBeforeAnySql) {
  for (const char* bad : {"events; DROP TABLE users", "ev\"ents", "1events", "", "e-v", "x y"}) {
    EXPECT_THROW(EventsTable(db, EventsTableOptions{.schema = {.table = bad}}), reflex::ConfigError)
        << bad;
    EXPECT_THROW((void)reflex::rsql::events_ddl(backend->dialect(), {.table = bad}),
                 reflex::ConfigError);
  }
  EXPECT_THROW(EventsTable(db, EventsTableOptions{.schema = {.type_column = "type--"}}),
               reflex::ConfigError);
  try {
    (void)reflex::rsql::events_ddl(backend->dialect(), {.table = "ev\nents"});
    ADD_FAILURE() << "a table name with a line break was accepted";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(R"("ev\nents" is not a valid SQL name: it contains "\n")"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(Outbox, ANoopLookalikeEventIsRejected) {
  auto table = make_table();
  auto producer = backend->producer();
  producer->begin();
  EXPECT_THROW((void)producer->insert(table, NewEvent{.foreign_id = "", .type = 0}),
               reflex::ConfigError);
  producer->rollback();
}

}  // namespace
}  // namespace reflex_test::rsql
