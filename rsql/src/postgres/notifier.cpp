#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <pqxx/pqxx>
#include <string_view>
#include <thread>
#include <utility>

#include "postgres/dialect.hpp"

namespace reflex::rsql::detail {

namespace {

using Clock = std::chrono::steady_clock;

/// The least time between two NOTIFYs of one table object while commits come faster than one
/// NOTIFY each: bounds their cost under load (at most 1,000 per second, each a small transaction
/// that commits without a flush), while commits that come one at a time are each announced at
/// once. It is also what a commit may wait for its wake-up under load: 5 ms here made a stream in
/// another process wait 5 ms at the median at 250 commits/s per producer (L4).
constexpr std::chrono::milliseconds kNotifySpacing{1};

/// Where a session that begins to LISTEN on a table's channel says so (the payload names the
/// channel), so that a sender that saw no listener hears of a new one at once.
constexpr const char* kJoinChannel = "reflex_listeners";

/// The first key of the shared advisory lock that a LISTENing session holds on its channel for as
/// long as it listens (the second key is the channel's hash). A sender sees in pg_locks whether any
/// session but its own table object's listener listens, and so whether a NOTIFY would wake anyone.
/// A lock, not a row: it ends with its session, however the session ends.
constexpr std::int32_t kListenerLockClass = 0x52464c58;  // "RFLX"

/// How often a sender that sends NOTIFYs checks that someone still listens.
constexpr std::chrono::seconds kListenerRecheck{1};

/// The channel's half of its listeners' lock key (FNV-1a: stable across processes and builds).
std::uint32_t channel_key(std::string_view channel) {
  std::uint32_t h = 2166136261u;
  for (const unsigned char c : channel) h = (h ^ c) * 16777619u;
  return h;
}

/// An eventfd: the wake-up of a thread that waits in poll(2).
class EventFd {
 public:
  EventFd() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~EventFd() { ::close(fd_); }
  EventFd(const EventFd&) = delete;
  EventFd& operator=(const EventFd&) = delete;
  [[nodiscard]] int fd() const noexcept { return fd_; }
  void signal() noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(fd_, &one, sizeof one);
  }
  void drain() noexcept {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto n = ::read(fd_, &count, sizeof count);
  }

 private:
  int fd_;
};

/// LISTEN on one session, NOTIFY from another, each on its own thread, so a producer's poke never
/// waits for the network and never runs inside its transaction. Pokes that arrive while a NOTIFY
/// is being sent are coalesced into the next one, and no NOTIFY is sent while no session of
/// another table object listens (ours are woken in-process): a process that writes where nobody
/// else follows pays for no server transaction of wake-ups.
class PgCrossNotifier final : public CrossNotifier {
 public:
  PgCrossNotifier(std::string conninfo, std::string redacted, std::string channel,
                  PoolMode pool_mode, std::function<void()> on_wake)
      : conninfo_(std::move(conninfo)),
        redacted_(std::move(redacted)),
        channel_(std::move(channel)),
        key_(channel_key(channel_)),
        pool_mode_(pool_mode),
        on_wake_(std::move(on_wake)) {
    sender_ = std::jthread([this](std::stop_token stop) { send(stop); });
  }

  ~PgCrossNotifier() override {
    listener_.request_stop();
    sender_.request_stop();
    listener_wake_.signal();
    sender_wake_.signal();
    if (listener_.joinable()) listener_.join();
    sender_.join();
  }

  void listen() override {
    // A LISTEN lasts as long as its session, and a transaction pooler lends one per transaction:
    // the streams poll instead (listening() stays false, so they keep their short interval).
    if (pool_mode_ == PoolMode::transaction) return;
    std::call_once(listen_once_, [this] {
      listener_ = std::jthread([this](std::stop_token stop) { listen(stop); });
    });
  }

  void poke() noexcept override {
    // Nobody else listens (as of the sender's last check; a listener that comes later makes the
    // sender send a NOTIFY that covers this commit too): nothing to do, not even a wake-up.
    if (!others_.load()) return;
    bool first = false;
    {
      std::lock_guard lock(poke_mutex_);
      first = !poked_;
      poked_ = true;
      ++pokes_;
    }
    // Only the first poke wakes the sender: later ones find it busy or pausing for more, and
    // waking it per commit would cost a system call per commit.
    if (first) sender_wake_.signal();
  }

  bool listening() const noexcept override { return listening_.load(); }

 private:
  /// The NOTIFYs of this table's channel, on the listener's session.
  class Receiver final : public pqxx::notification_receiver {
   public:
    Receiver(pqxx::connection_base& conn, const std::string& channel, PgCrossNotifier& owner)
        : pqxx::notification_receiver(conn, channel), owner_(owner) {}
    void operator()(const std::string&, int backend_pid) override {
      // Our own process's NOTIFYs: its streams were woken in-process already.
      if (backend_pid != owner_.sender_pid_.load()) owner_.on_wake_();
    }

   private:
    PgCrossNotifier& owner_;
  };

  /// The announcements of new listeners, on the sender's session (and its thread).
  class JoinReceiver final : public pqxx::notification_receiver {
   public:
    JoinReceiver(pqxx::connection_base& conn, PgCrossNotifier& owner)
        : pqxx::notification_receiver(conn, kJoinChannel), owner_(owner) {}
    void operator()(const std::string& channel, int backend_pid) override {
      if (channel == owner_.channel_ && backend_pid != owner_.listener_pid_.load()) {
        owner_.expect_others();
      }
    }

   private:
    PgCrossNotifier& owner_;
  };

  void listen(std::stop_token stop) {
    auto backoff = std::chrono::milliseconds(100);
    while (!stop.stop_requested()) {
      try {
        pqxx::connection conn(conninfo_);
        Receiver receiver(conn, channel_, *this);
        conn.get_notifs();  // establishes the LISTEN
        {
          // Listening now, this session says so: by a lock that senders see in pg_locks (held
          // until the session ends), then by a word to senders that saw no listener till now.
          // Either way, a commit after the word is announced; one before it is read just below.
          // One statement, its values inline: a session idle after it is one whose LISTEN is
          // in effect, and pg_stat_activity shows which channel it is for.
          pqxx::nontransaction tx(conn);
          // Known before the word goes out: our own sender must not take it for another's.
          listener_pid_ = tx.exec("SELECT pg_backend_pid()")[0][0].as<int>();
          tx.exec("SELECT pg_advisory_lock_shared(" + std::to_string(kListenerLockClass) + ", " +
                  std::to_string(static_cast<std::int32_t>(key_)) + "), pg_notify('" +
                  kJoinChannel + "', " + tx.quote(channel_) +
                  "), set_config('synchronous_commit', 'off', true)");
        }
        listening_ = true;
        backoff = std::chrono::milliseconds(100);
        on_wake_();  // commits may have happened while we were not listening
        while (!stop.stop_requested()) {
          pollfd fds[2] = {{conn.sock(), POLLIN, 0}, {listener_wake_.fd(), POLLIN, 0}};
          const int ready = ::poll(fds, 2, 1000);
          if (ready < 0 && errno != EINTR) break;
          if (fds[1].revents) break;
          conn.get_notifs();
          if (!conn.is_open()) break;
        }
      } catch (...) {
      }
      listening_ = false;
      listener_pid_ = 0;
      if (!stop.stop_requested()) {
        pause(listener_wake_, stop, Clock::now() + backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      }
    }
  }

  void send(std::stop_token stop) {
    // A NOTIFY takes a transaction id, so its commit would wait for a WAL flush (and hold the
    // server's notify lock meanwhile), adding to the producers' fsyncs. A wake-up need not be
    // durable: the events it announces were committed before it was sent. The setting is local
    // to the statement's own transaction: a session-wide SET would stay behind on a pooled server
    // session for its next client.
    const std::string notify_sql =
        "SELECT pg_notify($1, ''), set_config('synchronous_commit', 'off', true)";
    // Whether any session but our own listener holds a listener's lock on the channel (pg_locks
    // shows the keys as oids: unsigned); its parameters numbered from `first`.
    const auto listeners_sql = [](int first) {
      const auto p = [&](int i) { return "$" + std::to_string(first + i); };
      return "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid::int8 = " +
             p(0) + " AND objid::int8 = " + p(1) + " AND objsubid = 2 AND granted AND pid <> " +
             p(2) + ")";
    };
    const std::string notify_and_check_sql = notify_sql + ", " + listeners_sql(2);
    const std::string check_sql = "SELECT " + listeners_sql(1);
    // The server session is ours for as long as the connection: a LISTEN for new listeners and
    // a prepared statement last. Behind a transaction pooler neither would: NOTIFY always, with
    // the statement sent in full each time.
    const bool own_session = pool_mode_ != PoolMode::transaction;
    std::unique_ptr<pqxx::connection> conn;
    std::unique_ptr<JoinReceiver> joins;  // before conn in destruction order: declared after it
    Clock::time_point last_sent{};
    Clock::time_point last_check{};
    std::uint64_t covered = 0;  // pokes the last NOTIFY answered
    auto backoff = std::chrono::milliseconds(100);
    const auto drop_connection = [&] {
      joins.reset();
      conn.reset();
      sender_pid_ = 0;
      // Words of new listeners may be missed until the next session checks again: if pokes
      // were being dropped, they are taken again, and that session sends a NOTIFY at once.
      if (!others_.load()) expect_others();
    };
    // Whether no session of another table object listens (stored in others_), this session
    // listening from then on for the word of one that comes. The LISTEN is in effect before the
    // check, so a listener is either seen by the check or heard after it.
    const auto alone = [&] {
      if (!joins) {
        joins = std::make_unique<JoinReceiver>(*conn, *this);
        conn->get_notifs();  // establishes the LISTEN
      }
      others_ = pqxx::nontransaction(*conn)
                    .exec_params(check_sql, std::int64_t{kListenerLockClass}, std::int64_t{key_},
                                 listener_pid_.load())[0][0]
                    .as<bool>();
      last_check = Clock::now();
      conn->get_notifs();  // a word that came meanwhile outweighs a "nobody"
      return !others_;
    };
    // Not `while (!stop_requested())`: a producer that commits and exits at once may request
    // stop before this thread first runs, and its poke must still be sent. The wait decides.
    for (;;) {
      bool poked = false;
      {
        std::lock_guard lock(poke_mutex_);
        poked = poked_;
      }
      if (!poked) {
        // On stop, a pending poke is still sent (above): a producer that exits right after its
        // last commit must not leave other processes waiting for their next poll.
        if (stop.stop_requested()) return;
        // Wait for a poke, or (with a session) for a listener's word.
        pollfd fds[2] = {{sender_wake_.fd(), POLLIN, 0}, {conn ? conn->sock() : -1, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
        if (fds[0].revents) sender_wake_.drain();
        if (fds[1].revents) {
          try {
            conn->get_notifs();
            if (!conn->is_open()) drop_connection();
          } catch (...) {
            drop_connection();
          }
        }
        continue;
      }
      // Each NOTIFY is a server transaction and wakes every listener. When the last one covered
      // several commits, commits are coming faster than one NOTIFY each: let them share one per
      // kNotifySpacing (a stop cuts the pause short, not the send).
      if (covered > 1 && others_) pause(sender_wake_, stop, last_sent + kNotifySpacing);
      {
        std::lock_guard lock(poke_mutex_);
        covered = std::exchange(pokes_, 0);
        poked_ = false;
      }
      // Nobody else listens: no one to wake. A listener that comes says so on kJoinChannel, and
      // the NOTIFY sent then covers every commit before it.
      if (!others_) continue;
      try {
        if (!conn || !conn->is_open()) {
          drop_connection();
          conn = std::make_unique<pqxx::connection>(conninfo_);
          // The server's pid, which notifications carry (a pooler's backend key is its own).
          sender_pid_ = pqxx::nontransaction(*conn).exec("SELECT pg_backend_pid()")[0][0].as<int>();
          // Parsed and planned once per session, not per commit; a transaction pooler keeps no
          // prepared statement from one transaction to the next.
          if (own_session) conn->prepare("reflex_notify", notify_sql);
          // Before the first NOTIFY: a producer nobody else follows sends none at all.
          if (own_session && alone()) continue;
        }
        // Someone listens, so every poke is sent and no word is needed: a LISTENing session is
        // woken by every NOTIFY in its database, whatever the channel, and a sender that kept
        // listening for words would be woken by every other producer's NOTIFY.
        joins.reset();
        bool others = true;
        if (own_session && Clock::now() - last_check >= kListenerRecheck) {
          others =
              pqxx::nontransaction(*conn)
                  .exec_params(notify_and_check_sql, channel_, std::int64_t{kListenerLockClass},
                               std::int64_t{key_}, listener_pid_.load())[0][2]
                  .as<bool>();
          last_check = Clock::now();
        } else {
          pqxx::nontransaction tx(*conn);
          if (own_session) {
            tx.exec_prepared("reflex_notify", channel_);
          } else {
            tx.exec_params(notify_sql, channel_);
          }
        }
        last_sent = Clock::now();
        backoff = std::chrono::milliseconds(100);
        // The listeners left: listen for words again, and check once more after that.
        if (!others) alone();
      } catch (...) {
        // The server is away: other processes fall back to polling. Retry on the next poke.
        drop_connection();
        if (stop.stop_requested()) return;
        pause(sender_wake_, stop, Clock::now() + backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      }
    }
  }

  /// Someone may listen: pokes are taken again, and one NOTIFY goes out at once, covering every
  /// commit whose poke was dropped before (their commits precede this store). On the sender's
  /// thread.
  void expect_others() {
    others_ = true;
    std::lock_guard lock(poke_mutex_);
    poked_ = true;
  }

  /// Sleeps until `until` or a stop, whichever is first: pokes meanwhile (which signal `wake`)
  /// do not cut it short.
  static void pause(EventFd& wake, const std::stop_token& stop, Clock::time_point until) {
    while (!stop.stop_requested()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) return;
      pollfd fd{wake.fd(), POLLIN, 0};
      if (::poll(&fd, 1, static_cast<int>(left)) > 0) wake.drain();
    }
  }

  std::string conninfo_;
  std::string redacted_;
  std::string channel_;
  std::uint32_t key_;
  PoolMode pool_mode_;
  std::function<void()> on_wake_;
  EventFd listener_wake_;  // stops the listener's wait
  EventFd sender_wake_;    // a first poke, or a stop, ends the sender's wait
  std::atomic<bool> listening_{false};
  std::atomic<int> sender_pid_{0};
  std::atomic<int> listener_pid_{0};  // our own listener's server pid: not someone else's
  /// Whether a session of another table object may listen: assumed until a check says not, and
  /// again from the moment one says it listens (or the sender's session, which hears that, ends).
  std::atomic<bool> others_{true};
  std::mutex poke_mutex_;
  bool poked_ = false;
  std::uint64_t pokes_ = 0;  // since the last NOTIFY was taken for sending
  std::once_flag listen_once_;
  std::jthread listener_;
  std::jthread sender_;
};

}  // namespace

std::unique_ptr<CrossNotifier> make_pg_cross_notifier(std::string conninfo, std::string redacted,
                                                      std::string channel, PoolMode pool_mode,
                                                      std::function<void()> on_wake) {
  return std::make_unique<PgCrossNotifier>(std::move(conninfo), std::move(redacted),
                                           std::move(channel), pool_mode, std::move(on_wake));
}

}  // namespace reflex::rsql::detail
