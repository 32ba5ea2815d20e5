// One logical consumer shared by several members: the shards of "ledger" are dealt over the live
// members, each shard leased to one of them at a time in the SQL tables of rsql::ShardsTable, so
// each account's events are consumed in order however the members come and go. The members here
// are threads of one program, each with its own database handle as a process would have; a
// member that stops hands its shards over to the others.
//
//   shared_consumer   (a fresh SQLite database in a temp directory, removed at exit; exits 1 when
//   an event was missed or an account's events came out of order)
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <reflex/reflex.hpp>
#include <reflex/rpatterns/rpatterns.hpp>
#include <reflex/rsql/rsql.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace rsql = reflex::rsql;
namespace rpatterns = reflex::rpatterns;
using namespace std::chrono_literals;

constexpr int kEvents = 600;
constexpr int kAccounts = 40;

/// What the members consumed: the last event id per account, and who consumed how many.
class Ledger {
 public:
  void apply(const std::string& member, const reflex::Event& e) {
    std::lock_guard lock(mutex_);
    const long id = std::stol(e.id);
    if (id <= last_[e.foreign_id]) out_of_order_ = true;
    last_[e.foreign_id] = id;
    seen_.insert(id);
    ++by_member_[member];
  }
  [[nodiscard]] std::size_t seen() const {
    std::lock_guard lock(mutex_);
    return seen_.size();
  }
  [[nodiscard]] bool out_of_order() const {
    std::lock_guard lock(mutex_);
    return out_of_order_;
  }
  /// Keeps count of the shards each member holds (SharedOptions::on_change).
  void changed(const std::string& member, std::string_view what) {
    std::lock_guard lock(mutex_);
    held_[member] += what.starts_with("acquired") ? 1 : -1;
  }
  /// Every member of `names` holds at least `each` shards.
  [[nodiscard]] bool holding(const std::vector<std::string>& names, int each) const {
    std::lock_guard lock(mutex_);
    for (const auto& name : names) {
      const auto found = held_.find(name);
      if (found == held_.end() || found->second < each) return false;
    }
    return true;
  }
  [[nodiscard]] std::map<std::string, int> by_member() const {
    std::lock_guard lock(mutex_);
    return by_member_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, long> last_;
  std::set<long> seen_;
  std::map<std::string, int> by_member_;
  std::map<std::string, int> held_;
  bool out_of_order_ = false;
};

/// Runs one member of "ledger" until stopped, as a process of its own would.
std::jthread member(const std::string& dsn, const std::string& name, Ledger& ledger) {
  return std::jthread([dsn, name, &ledger](std::stop_token stop) {
    // [snippet:member]
    auto db = rsql::Database::open(dsn);
    rsql::EventsTable events(db);
    auto leases = std::make_shared<rsql::ShardsTable>(db);
    auto spec = rpatterns::shard_consumer(
        events.stream_func(), [&](std::stop_token, const reflex::Event& e) {
          std::this_thread::sleep_for(2ms);  // the work an event takes
          ledger.apply(name, e);             // the events of one account arrive here in order
        });
    rpatterns::run_shared(stop, leases, "ledger", spec,
                          {.shards = 8,
                           .member = name,  // default: "<hostname>-<pid>-<random>"
                           .lease_ttl = 2s,
                           .on_change = [name, &ledger](std::size_t shard, std::string_view what) {
                             std::cout << name << ": shard " << shard << " " << what << "\n";
                             ledger.changed(name, what);
                           }});
    // [end snippet]
  });
}

bool wait_for(const std::function<bool()>& done) {
  for (int i = 0; i < 3000 && !done(); ++i) std::this_thread::sleep_for(10ms);
  return done();
}

}  // namespace

int main() {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("reflex-shared-consumer-" + std::to_string(getpid()));
  fs::create_directories(dir);
  int status = 0;
  try {
    const std::string dsn = "sqlite://" + (dir / "app.db").string();
    auto db = rsql::Database::open(dsn);
    db->create_events_table();
    db->create_shards_tables();
    Ledger ledger;
    auto a = member(dsn, "a", ledger);
    auto b = member(dsn, "b", ledger);
    auto c = member(dsn, "c", ledger);
    // Once they saw each other, a and b hold 3 shards each and c 2 (round robin by name).
    if (!wait_for([&] { return ledger.holding({"a", "b"}, 3) && ledger.holding({"c"}, 2); })) {
      throw std::runtime_error("the members did not share the shards");
    }
    std::vector<rsql::NewEvent> deposits;
    for (int i = 0; i < kEvents; ++i) {
      deposits.push_back({.foreign_id = "account-" + std::to_string(i % kAccounts), .type = 1});
    }
    rsql::EventsTable(db).publish(deposits);
    if (!wait_for([&] { return ledger.seen() >= kEvents / 3; })) throw std::runtime_error("stuck");
    b.request_stop();  // a clean exit: b releases its shards and leaves, a and c take them over
    b.join();
    if (!wait_for([&] { return ledger.seen() == kEvents; })) {
      std::cerr << "only " << ledger.seen() << " of " << kEvents << " events consumed\n";
      status = 1;
    }
    if (ledger.out_of_order()) {
      std::cerr << "an account's events were consumed out of order\n";
      status = 1;
    }
    a.request_stop();
    c.request_stop();
    a.join();
    c.join();
    for (const auto& [name, count] : ledger.by_member()) {
      std::cout << name << " consumed " << count << " events\n";
    }
    // The shards' cursors, as `reflexctl cursors list` shows them too.
    for (const auto& shard : rsql::ShardsTable(db).list("ledger")) {
      std::cout << "ledger shard " << shard.shard << ": cursor " << shard.cursor << ", "
                << (shard.owner.empty() ? "free" : "held by " + shard.owner) << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "shared_consumer: " << e.what() << "\n";
    status = 1;
  }
  fs::remove_all(dir);
  return status;
}
