#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>
#include <utility>

#include "postgres/dialect.hpp"
#include "reflex/wait.hpp"

namespace reflex::rsql::detail {

namespace {

/// The least time between two NOTIFYs of one table object while commits come faster than one
/// NOTIFY each: bounds their cost under load (at most 200 per second), while commits that come one
/// at a time are each announced at once.
constexpr std::chrono::milliseconds kNotifySpacing{5};

/// LISTEN on one session, NOTIFY from another, each on its own thread, so a producer's poke never
/// waits for the network and never runs inside its transaction. Pokes that arrive while a NOTIFY
/// is being sent are coalesced into the next one.
class PgCrossNotifier final : public CrossNotifier {
 public:
  PgCrossNotifier(std::string conninfo, std::string redacted, std::string channel,
                  PoolMode pool_mode, std::function<void()> on_wake)
      : conninfo_(std::move(conninfo)),
        redacted_(std::move(redacted)),
        channel_(std::move(channel)),
        pool_mode_(pool_mode),
        on_wake_(std::move(on_wake)),
        wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    sender_ = std::jthread([this](std::stop_token stop) { send(stop); });
  }

  ~PgCrossNotifier() override {
    listener_.request_stop();
    sender_.request_stop();
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
    poke_wake_.notify_all();
    if (listener_.joinable()) listener_.join();
    sender_.join();
    ::close(wake_fd_);
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
    bool first = false;
    {
      std::lock_guard lock(poke_mutex_);
      first = !poked_;
      poked_ = true;
      ++pokes_;
    }
    // Only the first poke wakes the sender: later ones find it busy or pausing for more, and
    // waking it per commit would cost a context switch per commit.
    if (first) poke_wake_.notify_one();
  }

  bool listening() const noexcept override { return listening_.load(); }

 private:
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

  void listen(std::stop_token stop) {
    auto backoff = std::chrono::milliseconds(100);
    while (!stop.stop_requested()) {
      try {
        pqxx::connection conn(conninfo_);
        Receiver receiver(conn, channel_, *this);
        conn.get_notifs();  // establishes the LISTEN
        listening_ = true;
        backoff = std::chrono::milliseconds(100);
        on_wake_();  // commits may have happened while we were not listening
        while (!stop.stop_requested()) {
          pollfd fds[2] = {{conn.sock(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
          const int ready = ::poll(fds, 2, 1000);
          if (ready < 0 && errno != EINTR) break;
          if (fds[1].revents) break;
          conn.get_notifs();
          if (!conn.is_open()) break;
        }
      } catch (...) {
      }
      listening_ = false;
      if (!stop.stop_requested()) {
        wait_for(stop, backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      }
    }
  }

  void send(std::stop_token stop) {
    std::unique_ptr<pqxx::connection> conn;
    // A NOTIFY takes a transaction id, so its commit would wait for a WAL flush (and hold the
    // server's notify lock meanwhile), adding to the producers' fsyncs. A wake-up need not be
    // durable: the events it announces were committed before it was sent. The setting is local
    // to the statement's own transaction: a session-wide SET would stay behind on a pooled server
    // session for its next client.
    const std::string sql =
        "SELECT pg_notify($1, ''), set_config('synchronous_commit', 'off', true)";
    std::chrono::steady_clock::time_point last_sent{};
    std::uint64_t covered = 0;  // pokes the last NOTIFY answered
    auto backoff = std::chrono::milliseconds(100);
    // Not `while (!stop_requested())`: a producer that commits and exits at once may request
    // stop before this thread first runs, and its poke must still be sent. The wait decides.
    for (;;) {
      {
        std::unique_lock lock(poke_mutex_);
        poke_wake_.wait(lock, stop, [&] { return poked_; });
        // On stop, a pending poke is still sent: a producer that exits right after its last
        // commit must not leave other processes waiting for their next poll.
        if (!poked_) return;
        // Each NOTIFY is a server transaction and wakes every listener. When the last one
        // covered several commits, commits are coming faster than one NOTIFY each: let them
        // share one per kNotifySpacing (a stop cuts the pause short, not the send).
        if (covered > 1) {
          poke_wake_.wait_until(lock, stop, last_sent + kNotifySpacing, [] { return false; });
        }
        covered = std::exchange(pokes_, 0);
        poked_ = false;
      }
      try {
        if (!conn || !conn->is_open()) {
          conn = std::make_unique<pqxx::connection>(conninfo_);
          // The server's pid, which notifications carry (a pooler's backend key is its own).
          sender_pid_ = pqxx::nontransaction(*conn).exec("SELECT pg_backend_pid()")[0][0].as<int>();
        }
        pqxx::nontransaction tx(*conn);
        tx.exec_params(sql, channel_);
        last_sent = std::chrono::steady_clock::now();
        backoff = std::chrono::milliseconds(100);
      } catch (...) {
        // The server is away: other processes fall back to polling. Retry on the next poke.
        conn.reset();
        sender_pid_ = 0;
        if (stop.stop_requested()) return;
        wait_for(stop, backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      }
    }
  }

  void wait_for(std::stop_token stop, std::chrono::milliseconds duration) {
    std::unique_lock lock(poke_mutex_);
    poke_wake_.wait_for(lock, stop, duration, [] { return false; });
  }

  std::string conninfo_;
  std::string redacted_;
  std::string channel_;
  PoolMode pool_mode_;
  std::function<void()> on_wake_;
  int wake_fd_;
  std::atomic<bool> listening_{false};
  std::atomic<int> sender_pid_{0};
  std::mutex poke_mutex_;
  std::condition_variable_any poke_wake_;
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
