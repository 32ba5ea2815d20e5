// transactional_spec and deduplicated on in-memory implementations of their interfaces: what the
// patterns themselves promise (batching, replays skipped, options checked), whatever the store.
#include "reflex/rpatterns/transactional.hpp"

#include <gtest/gtest.h>

#include <set>

#include "helpers.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"
#include "reflex/rpatterns/inbox.hpp"

namespace {

using namespace rpatterns_test;
namespace rp = reflex::rpatterns;

/// The "database" of these tests: applied event ids and the cursor, committed together.
struct Ledger {
  std::vector<std::string> applied;
  std::string cursor;
};

/// Transactional cursors on a Ledger: a commit applies on a copy and keeps it only when apply
/// returned, as a transaction would.
class MemCursors final : public rp::TransactionalCursors<Ledger&> {
 public:
  std::string get(const rp::CursorRef&) override { return ledger.cursor; }
  void commit(const rp::CursorRef&, std::span<const reflex::Event> events,
              const rp::ApplyFunc<Ledger&>& apply) override {
    Ledger tx = ledger;
    std::size_t skip = 0;
    while (skip < events.size() && !tx.cursor.empty() &&
           events[skip].id_int() <= std::stoll(tx.cursor)) {
      ++skip;
    }
    if (skip == events.size()) return;
    ++commits;
    apply(tx, events.subspan(skip));
    tx.cursor = events.back().id;
    ledger = tx;
  }
  Ledger ledger;
  int commits = 0;
};

class MemInbox final : public rp::Inbox {
 public:
  bool contains(std::string_view source, std::string_view id) override {
    return seen.contains(std::string(source) + "/" + std::string(id));
  }
  bool record(std::string_view source, std::string_view id) override {
    return seen.insert(std::string(source) + "/" + std::string(id)).second;
  }
  std::set<std::string> seen;
};

rp::TransactionalConsumeFunc<Ledger&> apply_all() {
  return [](std::stop_token, Ledger& tx, std::span<const reflex::Event> events) {
    for (const auto& e : events) tx.applied.push_back(e.id);
  };
}

TEST(TransactionalSpec, CommitsBatchesWithTheirCursorAndRunsAgainFromIt) {
  LogAndStore source(10);
  auto cursors = std::make_shared<MemCursors>();
  const auto spec = rp::transactional_spec<Ledger&>(
      source.log.stream_func(), cursors, {.name = "ledger"}, apply_all(),
      {.max_batch = 4, .window = 1ms, .stream = {.to_head = true}});
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(cursors->ledger.applied, range_ids(1, 10));
  EXPECT_EQ(cursors->ledger.cursor, "10");
  EXPECT_GE(cursors->commits, 3) << "batches of at most 4";
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(cursors->ledger.applied, range_ids(1, 10)) << "a second run applies nothing again";
}

TEST(TransactionalSpec, AFailedBatchLeavesNothingAppliedAndEndsTheRunWithConsumeError) {
  LogAndStore source(6);
  auto cursors = std::make_shared<MemCursors>();
  bool fail = true;
  const auto spec = rp::transactional_spec<Ledger&>(
      source.log.stream_func(), cursors, {.name = "ledger"},
      [&](std::stop_token, Ledger& tx, std::span<const reflex::Event> events) {
        for (const auto& e : events) tx.applied.push_back(e.id);
        if (fail && events.back().id_int() > 3) throw std::runtime_error("boom");
      },
      {.max_batch = 3, .window = 1ms, .stream = {.to_head = true}});
  EXPECT_THROW(reflex::run({}, spec), reflex::ConsumeError);
  EXPECT_EQ(cursors->ledger.applied, range_ids(1, 3));
  fail = false;
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(cursors->ledger.applied, range_ids(1, 6));
}

TEST(TransactionalSpec, BadOptionsAreConfigErrors) {
  LogAndStore source(1);
  auto cursors = std::make_shared<MemCursors>();
  const auto stream = source.log.stream_func();
  EXPECT_THROW((void)rp::transactional_spec<Ledger&>(stream, cursors, {}, apply_all()),
               reflex::ConfigError);
  EXPECT_THROW((void)rp::transactional_spec<Ledger&>(stream, nullptr, {.name = "x"}, apply_all()),
               reflex::ConfigError);
  EXPECT_THROW((void)rp::transactional_spec<Ledger&>(stream, cursors, {.name = "x"}, {}),
               reflex::ConfigError);
  EXPECT_THROW((void)rp::transactional_spec<Ledger&>(stream, cursors, {.name = "x"}, apply_all(),
                                                     {.max_batch = 0}),
               reflex::ConfigError);
  EXPECT_THROW((void)rp::transactional_spec<Ledger&>(stream, cursors, {.name = "x"}, apply_all(),
                                                     {.max_batch = 8, .window = 0ms}),
               reflex::ConfigError);
  EXPECT_NO_THROW((void)rp::transactional_spec<Ledger&>(stream, cursors, {.name = "x"}, apply_all(),
                                                        {.max_batch = 1, .window = 0ms}));
}

TEST(Deduplicated, HandsInnerOnlyEventsNotRecordedAndRecordsThemAfterSuccess) {
  auto inbox = std::make_shared<MemInbox>();
  std::vector<std::string> seen;
  bool fail = true;
  auto inner = reflex::make_consumer("mailer", [&](const reflex::Event& e) {
    if (fail && e.id == "2") throw std::runtime_error("smtp down");
    seen.push_back(e.id);
  });
  auto consumer = rp::deduplicated(inbox, "users", inner);
  EXPECT_EQ(consumer->name(), "mailer");
  consumer->consume({}, reflex::Event{.id = "1"});
  EXPECT_THROW(consumer->consume({}, reflex::Event{.id = "2"}), std::exception);
  EXPECT_FALSE(inbox->contains("users", "2")) << "a failed event is not recorded";
  fail = false;
  for (const char* id : {"1", "2", "2", "3"}) consumer->consume({}, reflex::Event{.id = id});
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_TRUE(inbox->contains("users", "3"));
}

TEST(Deduplicated, NullsAndAnEmptySourceAreConfigErrors) {
  auto inner = reflex::make_consumer("c", [](const reflex::Event&) {});
  auto inbox = std::make_shared<MemInbox>();
  EXPECT_THROW((void)rp::deduplicated(nullptr, "s", inner), reflex::ConfigError);
  EXPECT_THROW((void)rp::deduplicated(inbox, "", inner), reflex::ConfigError);
  EXPECT_THROW((void)rp::deduplicated(inbox, "s", nullptr), reflex::ConfigError);
}

}  // namespace
