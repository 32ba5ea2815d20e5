// The dead-letter pattern of rpatterns recording into a real errors table, on every dialect.

#include <gtest/gtest.h>

#include "backend.hpp"
#include "reflex/reflex.hpp"
#include "reflex/rpatterns/retry.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test::rsql {
namespace {

namespace rp = reflex::rpatterns;

class DeadLetterTable : public ::testing::Test, protected FreshEvents {};

TEST_F(DeadLetterTable, RecordsTheFailedEventUnderItsConsumerAndMovesOn) {
  const reflex::rsql::ErrorsSchema errors_schema{.table = unique_name("errors"),
                                                 .events_table = unique_name("errev")};
  db->create_errors_table(errors_schema);
  EventsTable table(db, {.schema = {.table = name}});
  reflex::rsql::ErrorsTable errors(db, errors_schema);
  std::vector<NewEvent> batch;
  for (int i = 1; i <= 5; ++i) batch.push_back(NewEvent{.foreign_id = i, .type = 1});
  insert_committed(*backend, table, batch);

  std::vector<std::string> handled;
  std::string poisoned_id;
  auto billing = reflex::make_consumer("billing", [&](const reflex::Event& e) {
    if (e.foreign_id == "3") {
      poisoned_id = e.id;
      throw std::runtime_error("card declined");
    }
    handled.push_back(e.foreign_id);
  });
  auto cursors = std::make_shared<reflex::MemCursorStore>();
  auto consumer =
      rp::dead_letter(billing, rp::record_to(errors), {.retries = 1, .retry_delay = {}});
  try {
    reflex::run({}, reflex::Spec{.stream = table.stream_func(),
                                 .cursors = cursors,
                                 .consumer = consumer,
                                 .options = {.to_head = true}});
  } catch (const reflex::HeadReached&) {
  }
  EXPECT_EQ(handled, (std::vector<std::string>{"1", "2", "4", "5"}));
  EXPECT_EQ(consumer->recorded(), 1u);

  const auto rows = errors.list();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].consumer, "billing") << "consumer and event id swapped (luno/reflex's bug)";
  EXPECT_EQ(rows[0].event_id, poisoned_id);
  EXPECT_NE(rows[0].message.find("card declined"), std::string::npos) << rows[0].message;
}

TEST_F(DeadLetterTable, AnUnwritableErrorsTableFailsTheRunBeforeTheEvent) {
  EventsTable table(db, {.schema = {.table = name}});
  reflex::rsql::ErrorsTable missing(db, {.table = "no_such_errors", .events_table = "no_such_ev"});
  const NewEvent one[] = {NewEvent{.foreign_id = "x", .type = 1}};
  insert_committed(*backend, table, one);
  auto failing = reflex::make_consumer(
      "billing", [](const reflex::Event&) { throw std::runtime_error("always"); });
  auto cursors = std::make_shared<reflex::MemCursorStore>();
  EXPECT_THROW(reflex::run({}, reflex::Spec{.stream = table.stream_func(),
                                            .cursors = cursors,
                                            .consumer = rp::dead_letter(
                                                failing, rp::record_to(missing), {.retries = 0}),
                                            .options = {.to_head = true}}),
               reflex::ConsumeError);
  EXPECT_EQ(cursors->get("billing"), "") << "the unrecorded event was skipped";
}

}  // namespace
}  // namespace reflex_test::rsql
