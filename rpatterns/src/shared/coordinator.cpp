// run_shared: the coordinating loop of one member of a shared consumer. Every renew_interval it
// renews its membership and leases, computes its share and moves towards it: it gives up the
// shards it holds beyond its share (stopping their runs first) and takes free shards of its share.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>

#include "../util.hpp"
#include "lease_watch.hpp"
#include "reflex/errors.hpp"
#include "reflex/rpatterns/shared.hpp"
#include "shard_run.hpp"

namespace reflex::rpatterns {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// "<hostname>-<pid>-<random>": unique even when a process restarts with the same pid.
std::string default_member() {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  std::random_device random;
  const auto tag = std::uniform_int_distribution<std::uint32_t>()(random);
  std::array<char, 9> hex{};
  (void)std::snprintf(hex.data(), hex.size(), "%08x", tag);
  return std::string(host.data()) + "-" + std::to_string(getpid()) + "-" + hex.data();
}

void validate(const std::shared_ptr<ShardLeases>& leases, const std::string& group,
              const ShardSpecFunc& make_spec, SharedOptions& options) {
  const std::string what = "rpatterns::run_shared: shared consumer \"" + group + "\" ";
  if (group.empty()) throw ConfigError("rpatterns::run_shared: the group name is empty");
  if (!leases) throw ConfigError(what + "has no lease store (ShardLeases is null)");
  if (!make_spec) throw ConfigError(what + "has no spec function");
  if (options.shards == 0) throw ConfigError(what + "needs at least 1 shard");
  if (options.lease_ttl <= milliseconds::zero()) {
    throw ConfigError(what + "needs a positive lease_ttl (the default is 10 s)");
  }
  if (options.renew_interval < milliseconds::zero()) {
    throw ConfigError(what + "has a negative renew_interval (zero: lease_ttl / 4)");
  }
  if (options.renew_interval == milliseconds::zero()) {
    options.renew_interval = std::max(options.lease_ttl / 4, milliseconds(1));
  }
  if (options.renew_interval > options.lease_ttl / 2) {
    throw ConfigError(what + "renews every " + std::to_string(options.renew_interval.count()) +
                      "ms, more than half its lease_ttl of " +
                      std::to_string(options.lease_ttl.count()) +
                      "ms: one late renewal would lose the leases; renew at most every "
                      "lease_ttl / 2 (zero: lease_ttl / 4)");
  }
  if (options.cursor_flush_interval < milliseconds::zero()) {
    throw ConfigError(what + "has a negative cursor_flush_interval (zero: write every cursor)");
  }
  if (options.member.empty()) options.member = default_member();
  if (!options.hash) options.hash = by_foreign_id();
  options.restart.log = detail::or_stderr(std::move(options.restart.log));
}

/// The shards of `member` among the live `members` (sorted): shard i belongs to members[i % n].
std::vector<bool> share_of(const std::vector<std::string>& members, const std::string& member,
                           std::size_t shards) {
  std::vector<bool> mine(shards, false);
  const auto found = std::find(members.begin(), members.end(), member);
  if (found == members.end()) return mine;
  const auto position = static_cast<std::size_t>(found - members.begin());
  for (std::size_t i = position; i < shards; i += members.size()) mine[i] = true;
  return mine;
}

/// One member's state: the shards it holds and their runs.
///
/// Thread-safety: run() on one thread; the runs' exit hooks from theirs.
class Coordinator final {
 public:
  Coordinator(std::shared_ptr<ShardLeases> leases, std::string group, ShardSpecFunc make_spec,
              SharedOptions options)
      : leases_(std::move(leases)),
        group_(std::move(group)),
        make_spec_(std::move(make_spec)),
        options_(std::move(options)),
        shards_(shards(group_, options_.shards, {.hash = options_.hash})),
        // Stop a run this long before its lease may end: time to stop it, and room for the
        // clocks of this machine and of the store to run at slightly different rates.
        margin_(options_.lease_ttl / 4) {
    for (std::size_t i = 0; i < options_.shards; ++i) {
      metrics_.push_back(options_.metrics ? options_.metrics->shard(group_, i)
                                          : null_shard_metrics());
      metrics_.back()->set_owned(false);
    }
  }

  void run(std::stop_token stop) {
    while (!stop.stop_requested()) {
      const auto next = Clock::now() + options_.renew_interval;
      tick();
      std::unique_lock lock(mutex_);
      // Woken early when a run ended, so a shard given up is released at once.
      exited_.wait_until(lock, stop, next, [&] { return exits_ != 0; });
      exits_ = 0;
    }
    shut_down();
  }

 private:
  struct Slot {
    std::uint64_t token = 0;
    /// Stopping to give the shard to another member: released once the run ended.
    bool handing_over = false;
    /// The lease is gone: stopping, never released.
    bool lost = false;
    std::unique_ptr<detail::ShardRun> run{};
  };

  void tick() {
    const bool have_members = heartbeat();
    reap();
    renew();
    if (!have_members) return;  // without the live members no share can be computed
    const auto mine = share_of(members_, options_.member, options_.shards);
    for (auto& [index, slot] : slots_) {
      if (!mine[index] && !slot.handing_over && !slot.lost) {
        slot.handing_over = true;
        slot.run->request_stop();
      }
    }
    for (std::size_t index = 0; index < options_.shards; ++index) {
      if (mine[index] && !slots_.contains(index)) acquire(index);
    }
  }

  bool heartbeat() {
    try {
      members_ = leases_->heartbeat(group_, options_.member, options_.lease_ttl);
      store_ok();
      return true;
    } catch (...) {
      store_failed(std::current_exception());
      return false;
    }
  }

  /// Settles the slots whose runs ended: released when handed over, dropped when lost.
  void reap() {
    for (auto it = slots_.begin(); it != slots_.end();) {
      auto& [index, slot] = *it;
      if (!slot.run->finished()) {
        ++it;
        continue;
      }
      slot.run->join();
      if (slot.run->fenced() && !slot.lost) {
        lose(index, slot, "lost: another member took it (a cursor write was fenced out)");
      } else if (!slot.lost && !slot.handing_over) {
        ++it;  // a to_head spec at its head: kept, idle, until the share or a stop moves it
        continue;
      }
      if (!slot.lost) release(index, slot.token);
      watch_.forget(index);
      it = slots_.erase(it);
    }
  }

  void renew() {
    for (auto& [index, slot] : slots_) {
      if (slot.lost) continue;
      if (watch_.lapsed(index)) {
        lose(index, slot, "lost: its renewal could not be confirmed in time");
        continue;
      }
      const auto sent = Clock::now();
      try {
        if (leases_->renew(group_, index, slot.token, options_.lease_ttl)) {
          watch_.extend(index, deadline(sent));
        } else {
          lose(index, slot, "lost: it expired and another member may hold it");
        }
        store_ok();
      } catch (...) {
        store_failed(std::current_exception());  // the watch stops the run at its deadline
      }
    }
  }

  void acquire(std::size_t index) {
    const auto sent = Clock::now();
    std::optional<ShardState> state;
    try {
      state = leases_->acquire(group_, index, options_.member, options_.lease_ttl);
      store_ok();
    } catch (...) {
      store_failed(std::current_exception());
      return;
    }
    if (!state) return;  // another member still holds it
    const auto& shard = shards_[index];
    ShardContext context{
        .group = group_,
        .index = index,
        .count = options_.shards,
        .name = shard.name,
        .filter = shard.filter,
        .ref = CursorRef{.name = group_, .shard = index, .token = state->token},
        .metrics = options_.metrics,
    };
    Slot slot{.token = state->token};
    slot.run = std::make_unique<detail::ShardRun>(std::move(context),
                                                  detail::FencedShard{.leases = leases_,
                                                                      .group = group_,
                                                                      .index = index,
                                                                      .token = state->token,
                                                                      .name = shard.name},
                                                  options_.cursor_flush_interval, make_spec_,
                                                  options_.restart, [this] { on_exit(); });
    watch_.watch(index, slot.run->stop_source(), deadline(sent));
    slots_.emplace(index, std::move(slot));
    changed(index, LeaseChange::acquired, "acquired (token " + std::to_string(state->token) + ")");
  }

  void release(std::size_t index, std::uint64_t token) {
    try {
      leases_->release(group_, index, token);
      store_ok();
    } catch (...) {
      store_failed(std::current_exception());  // it expires after lease_ttl instead
    }
    changed(index, LeaseChange::released, "released");
  }

  void lose(std::size_t index, Slot& slot, const std::string& why) {
    slot.lost = true;
    slot.run->request_stop();
    changed(index, LeaseChange::lost, why);
  }

  /// On stop: every run stops (at once, all of them), flushes its cursor, and is released.
  void shut_down() {
    for (auto& [index, slot] : slots_) slot.run->request_stop();
    for (auto& [index, slot] : slots_) {
      slot.run->join();
      if (slot.run->fenced() && !slot.lost) {
        lose(index, slot, "lost: another member took it (a cursor write was fenced out)");
      }
      if (!slot.lost) release(index, slot.token);
    }
    slots_.clear();
    try {
      leases_->leave(group_, options_.member);
    } catch (...) {
      store_failed(std::current_exception());  // the membership expires after lease_ttl
    }
  }

  [[nodiscard]] Clock::time_point deadline(Clock::time_point sent) const {
    return sent + options_.lease_ttl - margin_;
  }

  void changed(std::size_t index, LeaseChange change, const std::string& what) {
    metrics_[index]->on_lease_change(change);
    metrics_[index]->set_owned(change == LeaseChange::acquired);
    if (!options_.on_change) return;
    try {
      options_.on_change(index, what);
    } catch (...) {
    }
  }

  void on_exit() {
    {
      std::lock_guard lock(mutex_);
      ++exits_;
    }
    exited_.notify_all();
  }

  /// Logs the first failure of a series and the recovery, not every renewal of an outage.
  void store_failed(const std::exception_ptr& error) {
    if (store_failing_) return;
    store_failing_ = true;
    detail::log_line(options_.restart.log, "reflex: shared consumer \"" + group_ + "\" member \"" +
                                               options_.member + "\" cannot reach " +
                                               leases_->describe() +
                                               " (retrying): " + detail::describe(error));
  }
  void store_ok() {
    if (!store_failing_) return;
    store_failing_ = false;
    detail::log_line(options_.restart.log, "reflex: shared consumer \"" + group_ + "\" member \"" +
                                               options_.member + "\" reaches " +
                                               leases_->describe() + " again");
  }

  std::shared_ptr<ShardLeases> leases_;
  std::string group_;
  ShardSpecFunc make_spec_;
  SharedOptions options_;
  std::vector<Shard> shards_;
  milliseconds margin_;
  std::vector<std::shared_ptr<ShardMetrics>> metrics_;
  std::vector<std::string> members_;
  bool store_failing_ = false;
  std::mutex mutex_;
  std::condition_variable_any exited_;
  std::size_t exits_ = 0;
  // Declared after what the runs use and before the runs: the watch outlives no run's stop
  // source it holds, and every run is stopped and joined (slots_ first) before the rest goes.
  detail::LeaseWatch watch_;
  std::map<std::size_t, Slot> slots_;
};

}  // namespace

void run_shared(std::stop_token stop, std::shared_ptr<ShardLeases> leases, std::string group,
                ShardSpecFunc make_spec, SharedOptions options) {
  validate(leases, group, make_spec, options);
  Coordinator(std::move(leases), std::move(group), std::move(make_spec), std::move(options))
      .run(std::move(stop));
}

}  // namespace reflex::rpatterns
