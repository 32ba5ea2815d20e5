// Cursor tables on any dialect: monotonic, buffered, and nothing dropped when a flush fails.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "backend.hpp"
#include "reflex/errors.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/wait.hpp"

namespace reflex_test::rsql {
namespace {

using namespace std::chrono_literals;
using reflex::CursorConflict;
using reflex::rsql::CursorsSchema;
using reflex::rsql::CursorsTable;
using reflex::rsql::CursorsTableOptions;
using reflex_test::eventually;

class Cursors : public ::testing::Test, protected OnBackend {
 protected:
  Cursors() { db->create_cursors_table(CursorsSchema{.table = name}); }
  std::unique_ptr<CursorsTable> make(std::chrono::milliseconds flush_interval = 1h) {
    return std::make_unique<CursorsTable>(
        db, CursorsTableOptions{.schema = {.table = name}, .flush_interval = flush_interval});
  }

  std::string name = unique_name("cursors");
};

TEST_F(Cursors, GetSeesWhatSetWroteBeforeAndAfterTheFlush) {
  auto cursors = make();
  EXPECT_EQ(cursors->get("a"), "");
  cursors->set("a", "5");
  EXPECT_EQ(cursors->get("a"), "5");
  EXPECT_EQ(make()->get("a"), "") << "a buffered cursor is not written before the flush";
  cursors->flush();
  EXPECT_EQ(cursors->get("a"), "5");
  EXPECT_EQ(make()->get("a"), "5");
  EXPECT_TRUE(cursors->pending().empty());
}

TEST_F(Cursors, TheBackgroundFlushWritesPeriodically) {
  auto cursors = make(50ms);
  cursors->set("a", "7");
  auto other = make();
  EXPECT_TRUE(eventually([&] { return other->get("a") == "7"; }, 5s));
  EXPECT_EQ(other->get("a"), "7");
}

TEST_F(Cursors, UnbufferedSetWritesAtOnce) {
  auto cursors = make(0ms);
  cursors->set("a", "3");
  EXPECT_EQ(make()->get("a"), "3");
}

TEST_F(Cursors, DestructionFlushesPendingCursors) {
  make()->set("a", "11");
  EXPECT_EQ(make()->get("a"), "11");
}

TEST_F(Cursors, NumericCursorsNeverMoveBackwardsAndComparAsNumbers) {
  auto cursors = make(0ms);
  cursors->set("a", "9");
  cursors->set("a", "10");  // longer: greater, although "10" < "9" as text
  EXPECT_EQ(make()->get("a"), "10");
  try {
    cursors->set("a", "9");
    FAIL() << "expected CursorConflict";
  } catch (const CursorConflict& e) {
    EXPECT_EQ(e.consumer(), "a");
    EXPECT_EQ(e.stored(), "10");
    EXPECT_EQ(e.refused(), "9");
    EXPECT_FALSE(e.retryable());
  }
  EXPECT_EQ(make()->get("a"), "10");
  cursors->set("a", "10");  // the same cursor again is fine
}

TEST_F(Cursors, ASecondRunnerCannotSilentlyRewindTheFirst) {
  auto first = make();
  auto second = make();
  first->set("consumer", "100");
  first->flush();
  second->set("consumer", "40");
  EXPECT_THROW(second->flush(), CursorConflict);
  EXPECT_EQ(make()->get("consumer"), "100");
  EXPECT_TRUE(second->pending().empty()) << "a refused cursor is not retried forever";
}

TEST_F(Cursors, ForceSetRewindsAndRemoveDeletes) {
  auto cursors = make(0ms);
  cursors->set("a", "50");
  cursors->force_set("a", "20");
  EXPECT_EQ(make()->get("a"), "20");
  cursors->set("b", "1");
  const auto all = cursors->list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], (std::pair<std::string, std::string>("a", "20")));
  EXPECT_EQ(all[1], (std::pair<std::string, std::string>("b", "1")));
  EXPECT_TRUE(cursors->remove("a"));
  EXPECT_FALSE(cursors->remove("a"));
  EXPECT_EQ(make()->get("a"), "");
}

TEST_F(Cursors, NonNumericCursorsAreStoredAsGiven) {
  auto cursors = make(0ms);
  cursors->set("remote", "abc");
  cursors->set("remote", "abb");
  EXPECT_EQ(make()->get("remote"), "abb");
}

TEST_F(Cursors, AFailedFlushKeepsEveryCursorForTheNextOne) {
  auto cursors = make();
  cursors->set("a", "1");
  cursors->set("b", "2");
  // Take the table away: the flush fails with an error naming it, and keeps both cursors.
  db->execute("ALTER TABLE " + name + " RENAME TO " + name + "_away");
  try {
    cursors->flush();
    FAIL() << "expected the flush to fail";
  } catch (const reflex::rsql::SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  }
  EXPECT_EQ(cursors->pending(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(cursors->get("a"), "1");
  cursors->set("b", "3");  // a newer set while failing wins over the kept one
  db->execute("ALTER TABLE " + name + "_away RENAME TO " + name);
  cursors->flush();
  EXPECT_TRUE(cursors->pending().empty());
  auto fresh = make();
  EXPECT_EQ(fresh->get("a"), "1");
  EXPECT_EQ(fresh->get("b"), "3");
}

TEST_F(Cursors, AMissingTableIsASchemaErrorNamingTheDdlHelper) {
  CursorsTable cursors(db, CursorsTableOptions{.schema = {.table = "no_such_cursors"}});
  try {
    (void)cursors.get("a");
    FAIL() << "expected SchemaError";
  } catch (const reflex::rsql::SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("cursors_ddl"), std::string::npos) << e.what();
  }
}

TEST_F(Cursors, BadNamesAreRejected) {
  EXPECT_THROW(CursorsTable(db, CursorsTableOptions{.schema = {.table = "c;drop"}}),
               reflex::ConfigError);
  EXPECT_THROW(CursorsTable(db, CursorsTableOptions{.schema = {.cursor_column = "a b"}}),
               reflex::ConfigError);
}

}  // namespace
}  // namespace reflex_test::rsql
