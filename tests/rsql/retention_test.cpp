// Retention on any dialect: bounded batches, never past the slowest listed consumer, safe while
// writers and readers run.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "backend.hpp"
#include "reflex/reflex.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test::rsql {
namespace {

using namespace std::chrono_literals;
using reflex::rsql::CursorsTable;
using reflex::rsql::CursorsTableOptions;
using reflex::rsql::RetentionOptions;

class Retention : public ::testing::Test, protected FreshEvents {
 protected:
  Retention() {
    db->create_cursors_table({.table = name + "_c"});
    table.emplace(db, EventsTableOptions{.schema = {.table = name}, .poll_interval = 5ms});
    cursors = std::make_shared<CursorsTable>(
        db, CursorsTableOptions{.schema = {.table = name + "_c"}, .flush_interval = 0ms});
  }

  std::vector<reflex::Event> all() { return read_to_head(*table); }

  std::optional<EventsTable> table;
  std::shared_ptr<CursorsTable> cursors;
};

TEST_F(Retention, DeletesOnlyEventsOlderThanTheAge) {
  std::vector<NewEvent> batch(20, NewEvent{.foreign_id = "x", .type = 1});
  insert_committed(*backend, *table, batch);
  std::stop_source stop;
  EXPECT_EQ(table->delete_old_events(stop.get_token(), RetentionOptions{.older_than = 1h}), 0u);
  EXPECT_EQ(all().size(), 20u);
  std::this_thread::sleep_for(20ms);  // the events age past older_than = 0s
  EXPECT_EQ(table->delete_old_events(stop.get_token(),
                                     RetentionOptions{.older_than = 0s, .batch_size = 3}),
            20u);
  EXPECT_TRUE(all().empty());
}

TEST_F(Retention, NeverDeletesPastTheSlowestListedConsumer) {
  std::vector<NewEvent> batch(100, NewEvent{.foreign_id = "x", .type = 1});
  insert_committed(*backend, *table, batch);
  const auto events = all();
  ASSERT_EQ(events.size(), 100u);
  cursors->set("fast", events[59].id);
  cursors->set("slow", events[29].id);
  std::this_thread::sleep_for(20ms);  // the events age past older_than = 0s
  std::stop_source stop;
  const auto deleted = table->delete_old_events(
      stop.get_token(),
      RetentionOptions{
          .older_than = 0s, .batch_size = 7, .cursors = cursors, .consumers = {"fast", "slow"}});
  EXPECT_EQ(deleted, 30u);
  const auto left = all();
  ASSERT_EQ(left.size(), 70u);
  EXPECT_EQ(left.front().id, events[30].id);
  // A listed consumer without a cursor holds everything back.
  EXPECT_EQ(
      table->delete_old_events(
          stop.get_token(),
          RetentionOptions{.older_than = 0s, .cursors = cursors, .consumers = {"fast", "new"}}),
      0u);
}

TEST_F(Retention, RunsWhileWritersAndAReaderRunWithoutLosingAnEvent) {
  constexpr int kEvents = 300;
  std::stop_source stop;
  std::jthread writer([&] {
    for (int i = 0; i < kEvents; ++i) {
      const NewEvent one[] = {NewEvent{.foreign_id = i, .type = 1}};
      insert_committed(*backend, *table, one);
      if (i % 20 == 0) std::this_thread::sleep_for(5ms);  // retention runs between writes
    }
  });
  std::vector<std::string> seen;
  std::jthread reader([&] {
    auto consumer = reflex::make_consumer("reader", [&](std::stop_token, const reflex::Event& e) {
      seen.push_back(e.foreign_id);
      if (seen.size() == kEvents) stop.request_stop();
    });
    reflex::run(stop.get_token(), reflex::Spec{.stream = table->stream_func(),
                                               .cursors = cursors,
                                               .consumer = consumer,
                                               .options = {}});
  });
  std::uint64_t deleted = 0;
  const auto started = std::chrono::steady_clock::now();
  while (!stop.stop_requested() && std::chrono::steady_clock::now() - started < 30s) {
    deleted += table->delete_old_events(
        std::stop_token(),
        RetentionOptions{
            .older_than = 0s, .batch_size = 10, .cursors = cursors, .consumers = {"reader"}});
    std::this_thread::sleep_for(10ms);  // a retention job's pace, while writer and reader run
  }
  stop.request_stop();
  reader.join();
  writer.join();
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) ASSERT_EQ(seen[i], std::to_string(i));
  EXPECT_GT(deleted, 0u) << "retention never ran concurrently";
}

}  // namespace
}  // namespace reflex_test::rsql
