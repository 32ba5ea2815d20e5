// One logical consumer shared by processes over a PostgreSQL events table: 3 member processes
// (rsql_shared_member) share 8 shards over 20,000 events; one is SIGKILLed mid-way and a 4th
// joins. Every event is processed, each foreign id's events first in id order, and the only
// repeats are the killed member's events past its shards' last written cursors.

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "backend.hpp"
#include "reflex/rsql/rsql.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/process.hpp"
#include "reflex_test/wait.hpp"

namespace reflex_test::rsql {
namespace {

using namespace std::chrono_literals;
using reflex::rsql::ShardsTable;

constexpr int kEvents = 20000;
constexpr int kForeignIds = 701;

/// One processing of an event, as a member's file records it.
struct Processed {
  long long at_ns = 0;  // steady clock, shared by the processes of this machine
  long id = 0;
  std::string foreign_id;
  std::string member;
};

std::vector<Processed> read_processed(const std::filesystem::path& file,
                                      const std::string& member) {
  std::vector<Processed> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    Processed p;
    p.member = member;
    if (fields >> p.at_ns >> p.id >> p.foreign_id) out.push_back(std::move(p));
  }
  return out;
}

class SharedProcesses : public ::testing::Test, protected OnBackend {
 protected:
  SharedProcesses() {
    db->create_events_table({.table = events});
    db->create_shards_tables({.table = shards, .members_table = members});
    EventsTable table(db, {.schema = {.table = events}});
    std::vector<NewEvent> batch;
    for (int i = 0; i < kEvents; ++i) {
      batch.push_back(NewEvent{.foreign_id = "f" + std::to_string(i % kForeignIds), .type = 1});
      if (batch.size() == 2000) {
        insert_committed(*backend, table, batch);
        batch.clear();
      }
    }
  }

  /// Starts member `name` (1 ms of work per event), recording to its own file.
  std::unique_ptr<Process> start(const std::string& name) {
    auto child = std::make_unique<Process>(
        std::vector<std::string>{REFLEX_SHARED_MEMBER, backend->dsn(), events, shards, members,
                                 "mailer", name, file(name).string(), "1000"});
    EXPECT_NE(child->wait_for_out("member " + name + " running"), "") << child->err();
    return child;
  }
  [[nodiscard]] std::filesystem::path file(const std::string& name) const {
    return dir.path() / (name + ".txt");
  }
  [[nodiscard]] std::vector<Processed> all(const std::vector<std::string>& names) const {
    std::vector<Processed> out;
    for (const auto& name : names) {
      auto part = read_processed(file(name), name);
      out.insert(out.end(), part.begin(), part.end());
    }
    std::sort(out.begin(), out.end(),
              [](const Processed& a, const Processed& b) { return a.at_ns < b.at_ns; });
    return out;
  }
  [[nodiscard]] std::size_t distinct(const std::vector<std::string>& names) const {
    std::set<long> ids;
    for (const auto& p : all(names)) ids.insert(p.id);
    return ids.size();
  }

  std::string events = unique_name("shared_events");
  std::string shards = unique_name("shared_shards");
  std::string members = unique_name("shared_members");
  TempDir dir;
};

TEST_F(SharedProcesses, EveryEventIsProcessedInOrderPerForeignIdWhileOneIsKilledAndOneJoins) {
  const std::vector<std::string> names{"m1", "m2", "m3", "m4"};
  auto m1 = start("m1");
  auto m2 = start("m2");
  auto m3 = start("m3");
  ASSERT_TRUE(eventually([&] { return distinct(names) >= kEvents / 4; }, 30s))
      << distinct(names) << " events processed; m1: " << m1->err();
  // SIGKILL: no release, no flush. Its shards stay held until their leases expire (2 s).
  m2->kill();
  ShardsTable table(db, {.schema = {.table = shards, .members_table = members}});
  std::map<std::size_t, long> cursor_at_kill;  // the killed member's shards and their cursors
  for (const auto& s : table.list("mailer")) {
    if (s.owner == "m2") cursor_at_kill[s.shard] = s.cursor.empty() ? 0 : std::stol(s.cursor);
  }
  EXPECT_FALSE(cursor_at_kill.empty()) << "m2 held no shard when it was killed";
  auto m4 = start("m4");
  ASSERT_TRUE(eventually([&] { return distinct(names) == kEvents; }, 45s))
      << distinct(names) << " of " << kEvents << " events processed";
  for (auto* m : {m1.get(), m3.get(), m4.get()}) {
    m->signal(SIGTERM);
    EXPECT_EQ(m->wait(10s), 0) << m->err();
  }

  const auto processed = all(names);
  const auto shard_of = [](const std::string& foreign_id) {
    return reflex::rpatterns::by_foreign_id()(reflex::Event{.foreign_id = foreign_id}) % 8;
  };
  std::set<long> first;
  std::map<std::string, long> last_of;  // foreign id -> last event id first processed
  std::set<long> repeated;
  std::set<long> killed_past_cursor;  // what m2 processed beyond its shards' cursors
  for (const auto& p : processed) {
    if (p.member == "m2") {
      const auto held = cursor_at_kill.find(shard_of(p.foreign_id));
      if (held != cursor_at_kill.end() && p.id > held->second) killed_past_cursor.insert(p.id);
    }
    if (!first.insert(p.id).second) {
      repeated.insert(p.id);
      continue;
    }
    EXPECT_LT(last_of[p.foreign_id], p.id) << "foreign id " << p.foreign_id << " out of order";
    last_of[p.foreign_id] = p.id;
  }
  EXPECT_EQ(first.size(), static_cast<std::size_t>(kEvents));
  // At most the killed owner's in-flight events repeat: exactly those it processed after the
  // last cursor it wrote (every 100 ms) of a shard it held, which the successor starts after.
  EXPECT_EQ(repeated, killed_past_cursor);
  // At 1 ms of work per event a shard processes at most ~100 events between two cursor writes;
  // with room for a slow write, no more than 3 flush intervals' worth per shard.
  EXPECT_LE(repeated.size(), cursor_at_kill.size() * 300) << repeated.size() << " repeats";
  RecordProperty("repeats", static_cast<int>(repeated.size()));
  std::set<std::string> who;
  for (const auto& p : processed) who.insert(p.member);
  EXPECT_EQ(who, (std::set<std::string>{"m1", "m2", "m3", "m4"})) << "m4 never got a share";
}

}  // namespace
}  // namespace reflex_test::rsql
