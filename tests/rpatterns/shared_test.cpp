// Shared consumers (run_shared) over in-memory shard leases: members as threads of this process.
#include "reflex/rpatterns/shared.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "helpers.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"

namespace {

using namespace rpatterns_test;
namespace rp = reflex::rpatterns;

constexpr std::size_t kShards = 8;

/// What every member of a test consumed, and a check that no shard ever had two owners at once.
class Record {
 public:
  struct Seen {
    std::string member;
    long id = 0;
    std::string foreign_id;
  };

  /// The consumer function of `member`: records the event; counts the runs inside a shard's
  /// consumer at once, which must never exceed one (two owners at once).
  rp::ShardSpecFunc spec(const reflex::MemLog& log, std::string member,
                         std::chrono::microseconds work = 0us) {
    return rp::shard_consumer(log.stream_func(), [this, member, work](std::stop_token,
                                                                      const reflex::Event& e) {
      const auto shard = rp::by_foreign_id()(e) % kShards;
      if (++active_[shard] > 1) two_owners_ = true;
      if (work > 0us) std::this_thread::sleep_for(work);
      {
        std::lock_guard lock(mutex_);
        seen_.push_back(Seen{.member = member, .id = std::stol(e.id), .foreign_id = e.foreign_id});
      }
      --active_[shard];
    });
  }

  [[nodiscard]] std::vector<Seen> seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  [[nodiscard]] std::set<long> ids() const {
    std::set<long> out;
    for (const auto& s : seen()) out.insert(s.id);
    return out;
  }
  [[nodiscard]] bool two_owners() const { return two_owners_.load(); }

 private:
  mutable std::mutex mutex_;
  std::vector<Seen> seen_;
  std::array<std::atomic<int>, kShards> active_{};
  std::atomic<bool> two_owners_{false};
};

/// A member of the shared consumer "mailer": run_shared on a thread until destroyed; knows which
/// shards it holds (from on_change).
class Member {
 public:
  Member(std::shared_ptr<rp::ShardLeases> leases, std::string name, rp::ShardSpecFunc spec,
         std::chrono::milliseconds lease_ttl = 400ms)
      : name_(std::move(name)) {
    rp::SharedOptions options{
        .shards = kShards, .member = name_, .lease_ttl = lease_ttl, .cursor_flush_interval = 0ms};
    options.restart.log = [](std::string_view) {};
    options.on_change = [this](std::size_t shard, std::string_view what) {
      std::lock_guard lock(mutex_);
      changes_.push_back(std::to_string(shard) + " " + std::string(what));
      if (what.starts_with("acquired")) {
        owned_.insert(shard);
      } else {
        owned_.erase(shard);
      }
    };
    thread_ = std::jthread([leases = std::move(leases), spec = std::move(spec),
                            options = std::move(options)](std::stop_token stop) {
      rp::run_shared(stop, leases, "mailer", spec, options);
    });
  }
  ~Member() { stop(); }
  void stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] std::set<std::size_t> owned() const {
    std::lock_guard lock(mutex_);
    return owned_;
  }
  /// Every on_change as "<shard> <what>".
  [[nodiscard]] std::vector<std::string> changes() const {
    std::lock_guard lock(mutex_);
    return changes_;
  }

 private:
  std::string name_;
  mutable std::mutex mutex_;
  std::set<std::size_t> owned_;
  std::vector<std::string> changes_;
  std::jthread thread_;  // last: joined before the rest goes
};

/// Leases that can be cut off for one member, as a network partition would: every call then
/// throws Unavailable.
class Partitionable final : public rp::ShardLeases {
 public:
  explicit Partitionable(std::shared_ptr<rp::ShardLeases> inner) : inner_(std::move(inner)) {}
  std::atomic<bool> cut{false};

  std::vector<std::string> heartbeat(std::string_view g, std::string_view m,
                                     std::chrono::milliseconds ttl) override {
    check();
    return inner_->heartbeat(g, m, ttl);
  }
  void leave(std::string_view g, std::string_view m) override {
    check();
    inner_->leave(g, m);
  }
  std::optional<rp::ShardState> acquire(std::string_view g, std::size_t s, std::string_view m,
                                        std::chrono::milliseconds ttl) override {
    check();
    return inner_->acquire(g, s, m, ttl);
  }
  bool renew(std::string_view g, std::size_t s, std::uint64_t t,
             std::chrono::milliseconds ttl) override {
    check();
    return inner_->renew(g, s, t, ttl);
  }
  void release(std::string_view g, std::size_t s, std::uint64_t t) override {
    check();
    inner_->release(g, s, t);
  }
  void write_cursor(std::string_view g, std::size_t s, std::uint64_t t,
                    std::string_view c) override {
    check();
    inner_->write_cursor(g, s, t, c);
  }
  void force_cursor(std::string_view g, std::size_t s, std::string_view c) override {
    check();
    inner_->force_cursor(g, s, c);
  }
  std::vector<rp::ShardState> list(std::string_view g) override {
    check();
    return inner_->list(g);
  }
  std::string describe() const override { return inner_->describe(); }

 private:
  void check() const {
    if (cut) throw reflex::Unavailable("partitioned");
  }
  std::shared_ptr<rp::ShardLeases> inner_;
};

/// A log of `count` events over `entities` foreign ids, round robin.
void fill(reflex::MemLog& log, int count, int entities) {
  for (int i = 0; i < count; ++i) log.append(1, "entity-" + std::to_string(i % entities));
}

/// Every shard has an owner that is one of `members`, and the members' shares are disjoint.
bool settled(const std::vector<const Member*>& members, std::size_t min_each) {
  std::set<std::size_t> all;
  std::size_t total = 0;
  for (const auto* m : members) {
    const auto owned = m->owned();
    if (owned.size() < min_each) return false;
    total += owned.size();
    all.insert(owned.begin(), owned.end());
  }
  return all.size() == kShards && total == kShards;
}

/// Asserts that each foreign id's events were first seen in id order and all `count` were seen.
void expect_all_in_order(const Record& record, long count) {
  std::map<std::string, long> last;
  std::set<long> first;
  for (const auto& s : record.seen()) {
    if (!first.insert(s.id).second) continue;  // a repeat: only first processings are ordered
    EXPECT_LT(last[s.foreign_id], s.id) << s.foreign_id << " out of order";
    last[s.foreign_id] = s.id;
  }
  EXPECT_EQ(static_cast<long>(first.size()), count);
  if (!first.empty()) {
    EXPECT_EQ(*first.rbegin(), count);
  }
}

TEST(SharedConsumer, SharesAreFairAndDisjoint) {
  reflex::MemLog log;
  Record record;
  auto leases = rp::make_mem_shard_leases();
  Member a(leases, "a", record.spec(log, "a"));
  Member b(leases, "b", record.spec(log, "b"));
  Member c(leases, "c", record.spec(log, "c"));
  // Round robin over the sorted names: a gets 0, 3, 6; b 1, 4, 7; c 2, 5 (once every member
  // saw the others: until then the shares move).
  const auto fair = [&] {
    return a.owned() == std::set<std::size_t>{0, 3, 6} &&
           b.owned() == std::set<std::size_t>{1, 4, 7} && c.owned() == std::set<std::size_t>{2, 5};
  };
  ASSERT_TRUE(eventually(fair, 10s)) << a.owned().size() << b.owned().size() << c.owned().size();
  std::this_thread::sleep_for(300ms);  // a few renewals later the shares still hold
  EXPECT_TRUE(fair());
  EXPECT_TRUE(settled({&a, &b, &c}, 2));
  for (const auto& state : leases->list("mailer")) {
    EXPECT_FALSE(state.owner.empty()) << "shard " << state.shard;
  }
}

TEST(SharedConsumer, AMemberThatJoinsGetsItsShareWithoutTwoOwnersAtOnce) {
  reflex::MemLog log;
  fill(log, 3000, 97);
  Record record;
  auto leases = rp::make_mem_shard_leases();
  {
    Member a(leases, "a", record.spec(log, "a", 1ms));
    ASSERT_TRUE(eventually([&] { return a.owned().size() == kShards; }, 10s));
    ASSERT_TRUE(eventually([&] { return record.ids().size() > 200; }, 10s));
    Member b(leases, "b", record.spec(log, "b", 1ms));
    ASSERT_TRUE(eventually([&] { return settled({&a, &b}, 4); }, 10s));
    EXPECT_EQ(a.owned().size(), 4u);
    EXPECT_EQ(b.owned().size(), 4u);
    ASSERT_TRUE(eventually([&] { return record.ids().size() == 3000; }, 30s));
  }
  EXPECT_FALSE(record.two_owners()) << "a shard was consumed by two members at once";
  std::set<std::string> members;
  for (const auto& s : record.seen()) members.insert(s.member);
  EXPECT_EQ(members, (std::set<std::string>{"a", "b"}));
  expect_all_in_order(record, 3000);
}

TEST(SharedConsumer, AMemberWhoseLeasesExpireIsReplacedAndTheSuccessorContinuesFromTheCursor) {
  reflex::MemLog log;
  fill(log, 400, 31);
  Record record;
  auto store = rp::make_mem_shard_leases();
  auto cut_off = std::make_shared<Partitionable>(store);
  Member a(cut_off, "a", record.spec(log, "a"));
  ASSERT_TRUE(eventually([&] { return record.ids().size() == 400; }, 10s));
  // Every cursor was written (flush after each event): the shards' cursors cover all 400.
  ASSERT_TRUE(eventually(
      [&] {
        std::size_t written = 0;
        for (const auto& s : store->list("mailer")) written += s.cursor.empty() ? 0 : 1;
        return written == kShards;
      },
      5s));
  cut_off->cut = true;  // a can no longer renew: its runs stop before its leases may end
  ASSERT_TRUE(eventually([&] { return a.owned().empty(); }, 5s));
  const auto before = record.seen().size();
  fill(log, 100, 31);
  Member b(store, "b", record.spec(log, "b"));
  ASSERT_TRUE(eventually([&] { return record.ids().size() == 500; }, 10s));
  const auto seen = record.seen();
  for (std::size_t i = before; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].member, "b");
    EXPECT_GT(seen[i].id, 400) << "b repeated an event below the shard cursors";
  }
  EXPECT_EQ(b.owned().size(), kShards);
  EXPECT_FALSE(record.two_owners());
}

TEST(SharedConsumer, AFencedOutOwnersCursorWriteIsCursorConflict) {
  auto leases = rp::make_mem_shard_leases();
  const auto first = leases->acquire("mailer", 2, "a", 1ms);
  ASSERT_TRUE(first);
  std::this_thread::sleep_for(5ms);
  const auto second = leases->acquire("mailer", 2, "b", 10s);
  ASSERT_TRUE(second) << "an expired lease is free to take";
  EXPECT_GT(second->token, first->token);
  EXPECT_FALSE(leases->acquire("mailer", 2, "a", 10s)) << "b holds it now";
  EXPECT_THROW(leases->write_cursor("mailer", 2, first->token, "9"), reflex::CursorConflict);
  EXPECT_FALSE(leases->renew("mailer", 2, first->token, 10s));
  leases->release("mailer", 2, first->token);  // not its lease: nothing happens
  leases->write_cursor("mailer", 2, second->token, "9");
  EXPECT_THROW(leases->write_cursor("mailer", 2, second->token, "8"), reflex::CursorConflict)
      << "numeric cursors move forward only";
  const auto states = leases->list("mailer");
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].owner, "b");
  EXPECT_EQ(states[0].cursor, "9");
}

TEST(SharedConsumer, AFencedOutRunStopsAndItsMemberDropsTheShard) {
  reflex::MemLog log;
  fill(log, 50, 7);
  Record record;
  auto leases = rp::make_mem_shard_leases();
  Member a(leases, "a", record.spec(log, "a"), 10s);
  ASSERT_TRUE(eventually([&] { return record.ids().size() == 50; }, 10s));
  // Another process takes shard 0 by force (its lease as if expired): a's next cursor write
  // through its old token is refused, which must end a's run of the shard.
  for (const auto& s : leases->list("mailer")) {
    if (s.shard != 0) continue;
    leases->release("mailer", 0, s.token);
  }
  const auto taken = leases->acquire("mailer", 0, "intruder", 1h);
  ASSERT_TRUE(taken);
  for (int i = 0; i < 200; ++i) log.append(1, "entity-" + std::to_string(i % 7));
  // Well before a's next renewal (every 2.5 s) would have told it.
  EXPECT_TRUE(eventually([&] { return !a.owned().contains(0); }, 2s))
      << "a kept running a shard whose cursor writes were fenced out";
  const auto changes = a.changes();
  EXPECT_NE(std::find(changes.begin(), changes.end(),
                      "0 lost: another member took it (a cursor write was fenced out)"),
            changes.end());
}

TEST(SharedConsumer, EveryEventIsConsumedPerForeignIdInOrderWhileMembersComeAndGo) {
  reflex::MemLog log;
  fill(log, 2000, 53);
  Record record;
  auto leases = rp::make_mem_shard_leases();
  auto a = std::make_unique<Member>(leases, "a", record.spec(log, "a", 200us));
  auto b = std::make_unique<Member>(leases, "b", record.spec(log, "b", 200us));
  ASSERT_TRUE(eventually([&] { return record.ids().size() > 500; }, 10s));
  a.reset();  // a clean exit: its shards move at once
  Member c(leases, "c", record.spec(log, "c", 200us));
  ASSERT_TRUE(eventually([&] { return record.ids().size() == 2000; }, 30s));
  EXPECT_FALSE(record.two_owners());
  expect_all_in_order(record, 2000);
}

TEST(SharedConsumer, RejectsOptionsThatCannotKeepALease) {
  auto leases = rp::make_mem_shard_leases();
  reflex::MemLog log;
  auto spec = rp::shard_consumer(log.stream_func(), [](std::stop_token, const reflex::Event&) {});
  const std::stop_token none;
  EXPECT_THROW(rp::run_shared(none, leases, "g", spec, {.shards = 0}), reflex::ConfigError);
  EXPECT_THROW(rp::run_shared(none, nullptr, "g", spec), reflex::ConfigError);
  EXPECT_THROW(rp::run_shared(none, leases, "", spec), reflex::ConfigError);
  EXPECT_THROW(rp::run_shared(none, leases, "g", {}), reflex::ConfigError);
  try {
    rp::run_shared(none, leases, "g", spec, {.lease_ttl = 1s, .renew_interval = 600ms});
    FAIL() << "expected ConfigError";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("lease_ttl / 2"), std::string::npos) << e.what();
  }
}

TEST(SharedConsumer, StopReleasesEveryLeaseAndLeavesTheGroup) {
  reflex::MemLog log;
  Record record;
  auto leases = rp::make_mem_shard_leases();
  {
    Member a(leases, "a", record.spec(log, "a"));
    ASSERT_TRUE(eventually([&] { return a.owned().size() == kShards; }, 10s));
  }
  for (const auto& s : leases->list("mailer")) EXPECT_EQ(s.owner, "") << "shard " << s.shard;
  EXPECT_EQ(leases->heartbeat("mailer", "probe", 1s), std::vector<std::string>{"probe"});
}

}  // namespace
