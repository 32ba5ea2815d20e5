// One logical consumer shared by processes over a PostgreSQL events table: 3 member processes
// (rsql_shared_member) share 8 shards over 20,000 events; one is SIGKILLed mid-way and a 4th
// joins. Every event is processed, each foreign id's events first in id order, and the only
// repeats are the killed member's events past its shards' last written cursors; with
// transactional shards (effects committed with the shard cursor), none at all.

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <map>
#include <pqxx/pqxx>
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
    db->execute("CREATE TABLE " + processed +
                " (member text NOT NULL, event_id bigint NOT NULL, foreign_id text NOT NULL, "
                "at_ns bigint NOT NULL)");
  }

  /// Runs m1..m3, SIGKILLs m2 once a quarter of the events were processed, starts m4, waits
  /// until every event was processed and stops the rest. Returns the cursors of the shards m2
  /// held when it was killed.
  std::map<std::size_t, long> kill_one_and_add_one(bool transactional) {
    const std::vector<std::string> names{"m1", "m2", "m3", "m4"};
    auto m1 = start("m1", transactional);
    auto m2 = start("m2", transactional);
    auto m3 = start("m3", transactional);
    EXPECT_TRUE(eventually([&] { return distinct(names) >= kEvents / 4; }, 30s))
        << distinct(names) << " events processed; m1: " << m1->err();
    // SIGKILL: no release, no flush. Its shards stay held until their leases expire (2 s).
    m2->kill();
    ShardsTable table(db, {.schema = {.table = shards, .members_table = members}});
    std::map<std::size_t, long> cursor_at_kill;
    for (const auto& s : table.list("mailer")) {
      if (s.owner == "m2") cursor_at_kill[s.shard] = s.cursor.empty() ? 0 : std::stol(s.cursor);
    }
    EXPECT_FALSE(cursor_at_kill.empty()) << "m2 held no shard when it was killed";
    auto m4 = start("m4", transactional);
    EXPECT_TRUE(eventually([&] { return distinct(names) == kEvents; }, 45s))
        << distinct(names) << " of " << kEvents << " events processed";
    for (auto* m : {m1.get(), m3.get(), m4.get()}) {
      m->signal(SIGTERM);
      EXPECT_EQ(m->wait(10s), 0) << m->err();
    }
    return cursor_at_kill;
  }

  /// Starts member `name` (1 ms of work per event), recording to its own file, or with
  /// `transactional` to the table `processed` in the transactions of its shard cursors.
  std::unique_ptr<Process> start(const std::string& name, bool transactional) {
    auto child = std::make_unique<Process>(
        std::vector<std::string>{REFLEX_SHARED_MEMBER, backend->dsn(), events, shards, members,
                                 "mailer", name, transactional ? "transactional" : "file",
                                 transactional ? processed : file(name).string(), "1000"});
    EXPECT_NE(child->wait_for_out("member " + name + " running"), "") << child->err();
    return child;
  }
  [[nodiscard]] std::filesystem::path file(const std::string& name) const {
    return dir.path() / (name + ".txt");
  }
  /// Every processing recorded, in the order they happened.
  [[nodiscard]] std::vector<Processed> all(const std::vector<std::string>& names) const {
    std::vector<Processed> out;
    for (const auto& name : names) {
      auto part = read_processed(file(name), name);
      out.insert(out.end(), part.begin(), part.end());
    }
    pqxx::connection conn(backend->dsn());
    pqxx::nontransaction tx(conn);
    for (const auto& row :
         tx.exec("SELECT member, event_id, foreign_id, at_ns FROM " + tx.quote_name(processed))) {
      out.push_back(Processed{.at_ns = row[3].as<long long>(),
                              .id = row[1].as<long>(),
                              .foreign_id = row[2].as<std::string>(),
                              .member = row[0].as<std::string>()});
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
  std::string processed = unique_name("processed");
  TempDir dir;
};

TEST_F(SharedProcesses, EveryEventIsProcessedInOrderPerForeignIdWhileOneIsKilledAndOneJoins) {
  const std::vector<std::string> names{"m1", "m2", "m3", "m4"};
  const auto cursor_at_kill = kill_one_and_add_one(false);
  const auto seen = all(names);
  const auto shard_of = [](const std::string& foreign_id) {
    return reflex::rpatterns::by_foreign_id()(reflex::Event{.foreign_id = foreign_id}) % 8;
  };
  std::set<long> first;
  std::map<std::string, long> last_of;  // foreign id -> last event id first processed
  std::set<long> repeated;
  std::set<long> killed_past_cursor;  // what m2 processed beyond its shards' cursors
  for (const auto& p : seen) {
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
  for (const auto& p : seen) who.insert(p.member);
  EXPECT_EQ(who, (std::set<std::string>{"m1", "m2", "m3", "m4"})) << "m4 never got a share";
}

TEST_F(SharedProcesses, TransactionalShardsRepeatNoEventWhileOneIsKilledAndOneJoins) {
  const std::vector<std::string> names{"m1", "m2", "m3", "m4"};
  (void)kill_one_and_add_one(true);
  const auto seen = all(names);
  std::set<long> ids;
  std::map<std::string, long> last_of;
  for (const auto& p : seen) {
    EXPECT_TRUE(ids.insert(p.id).second) << "event " << p.id << " was applied twice";
    EXPECT_LT(last_of[p.foreign_id], p.id) << "foreign id " << p.foreign_id << " out of order";
    last_of[p.foreign_id] = p.id;
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kEvents));
  std::set<std::string> who;
  for (const auto& p : seen) who.insert(p.member);
  EXPECT_EQ(who, (std::set<std::string>{"m1", "m2", "m3", "m4"})) << "m4 never got a share";
}

}  // namespace
}  // namespace reflex_test::rsql
