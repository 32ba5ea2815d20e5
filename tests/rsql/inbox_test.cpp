// rsql::Inbox on any dialect (the executable's backend): records inserted if absent, on reflex's
// connections or in the caller's transaction, purged by age; deduplicated consumers on it.

#include "reflex/rpatterns/inbox.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "backend.hpp"
#include "reflex/errors.hpp"
#include "reflex/reflex.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test::rsql {
namespace {

using namespace std::chrono_literals;
using reflex::Event;
using reflex::rsql::Inbox;
using reflex::rsql::InboxOptions;

class InboxTable : public ::testing::Test, protected OnBackend {
 protected:
  InboxTable() { db->create_inbox_table({.table = table}); }
  std::shared_ptr<Inbox> make_inbox(InboxOptions options = {}) {
    options.schema.table = table;
    options.purge_interval = 0ms;
    return std::make_shared<Inbox>(db, options);
  }
  const std::string table = unique_name("inbox");
};

TEST_F(InboxTable, ARecordIsNewOnceAndContainedAfterwards) {
  auto inbox = make_inbox();
  EXPECT_FALSE(inbox->contains("orders", "1"));
  EXPECT_TRUE(inbox->record("orders", "1"));
  EXPECT_FALSE(inbox->record("orders", "1"));
  EXPECT_TRUE(inbox->contains("orders", "1"));
  EXPECT_FALSE(inbox->contains("payments", "1")) << "sources are kept apart";
  EXPECT_TRUE(inbox->record("payments", "1"));
}

TEST_F(InboxTable, ARecordInTheCallersRolledBackTransactionLeavesNoRow) {
  auto inbox = make_inbox();
  auto producer = backend->producer();
  producer->begin();
  EXPECT_TRUE(producer->record(*inbox, "orders", "7"));
  producer->rollback();
  EXPECT_FALSE(inbox->contains("orders", "7"));

  producer->begin();
  EXPECT_TRUE(producer->record(*inbox, "orders", "7"));
  producer->commit();
  EXPECT_TRUE(inbox->contains("orders", "7"));
  producer->begin();
  EXPECT_FALSE(producer->record(*inbox, "orders", "7")) << "recorded before: skip the effects";
  producer->commit();
}

TEST_F(InboxTable, PurgeRemovesOldRecordsOnlyInBatches) {
  auto inbox = make_inbox({.purge_batch = 2});
  for (int i = 0; i < 5; ++i) (void)inbox->record("old", std::to_string(i));
  std::this_thread::sleep_for(50ms);
  const auto cutoff = std::chrono::system_clock::now();
  std::this_thread::sleep_for(50ms);
  (void)inbox->record("new", "1");
  EXPECT_EQ(inbox->purge(cutoff), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(inbox->contains("old", std::to_string(i)));
  EXPECT_TRUE(inbox->contains("new", "1"));
  EXPECT_EQ(inbox->purge(cutoff), 0u);
}

TEST_F(InboxTable, TheDestructorStopsTheBackgroundPurgePromptly) {
  const auto started = std::chrono::steady_clock::now();
  {
    Inbox inbox(db, {.schema = {.table = table}, .purge_interval = 1h});
    (void)inbox.record("orders", "1");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST_F(InboxTable, DeduplicatedSkipsAnEventDeliveredTwice) {
  std::vector<std::string> handled;
  auto inner = reflex::make_consumer("mailer", [&](const Event& e) { handled.push_back(e.id); });
  auto consumer = reflex::rpatterns::deduplicated(make_inbox(), "orders", inner);
  EXPECT_EQ(consumer->name(), "mailer");
  for (const char* id : {"1", "2", "1", "2", "3"}) consumer->consume({}, Event{.id = id});
  EXPECT_EQ(handled, (std::vector<std::string>{"1", "2", "3"}));
}

TEST_F(InboxTable, AMissingTableIsASchemaErrorNamingItsDdl) {
  Inbox inbox(db, {.schema = {.table = unique_name("noinbox")}, .purge_interval = 0ms});
  try {
    (void)inbox.record("orders", "1");
    ADD_FAILURE() << "recorded without an inbox table";
  } catch (const reflex::rsql::SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("inbox_ddl"), std::string::npos) << e.what();
  }
}

TEST_F(InboxTable, AnEmptySourceOrAKeyTooLongIsAConfigError) {
  auto inbox = make_inbox();
  EXPECT_THROW((void)inbox->record("", "1"), reflex::ConfigError);
  EXPECT_THROW((void)inbox->record("orders", std::string(256, 'x')), reflex::ConfigError);
  EXPECT_THROW((void)Inbox(db, {.schema = {.table = "no such"}}), reflex::ConfigError);
}

}  // namespace
}  // namespace reflex_test::rsql
