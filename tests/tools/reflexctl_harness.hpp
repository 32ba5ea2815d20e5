#pragma once
// The harness of the reflexctl tests: reflexctl run as a process (Background, run), HTTP GET,
// loopback ports that refuse or never answer, a nats-server with a password, and the fixture
// with a temp-file SQLite outbox.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "reflex/rsql/rsql.hpp"
#include "reflex_test/env.hpp"

extern char** environ;

namespace reflexctl_test {

inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    out.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

using namespace std::chrono_literals;

/// The reflexctl under test: this build's, or the one REFLEXCTL_BINARY names (to check that a
/// test fails on an older build).
inline std::string reflexctl_binary() {
  const char* other = std::getenv("REFLEXCTL_BINARY");
  return other != nullptr && *other != '\0' ? other : REFLEXCTL;
}

/// reflexctl as a process: `input` fed on its stdin (none: /dev/null), its output collected while
/// it runs. The destructor kills it if a test left it running.
class Background {
 public:
  explicit Background(std::vector<std::string> args, std::vector<std::string> env = {},
                      std::optional<std::string> input = std::nullopt) {
    // A process that exits without reading its input must not kill the test with SIGPIPE.
    static const bool sigpipe_ignored = (::signal(SIGPIPE, SIG_IGN), true);
    (void)sigpipe_ignored;
    args.insert(args.begin(), reflexctl_binary());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    int in[2] = {-1, -1}, out[2], err[2];
    if (input) {
      EXPECT_EQ(pipe(in), 0);
    }
    EXPECT_EQ(pipe(out), 0);
    EXPECT_EQ(pipe(err), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (input) {
      posix_spawn_file_actions_adddup2(&actions, in[0], 0);
      posix_spawn_file_actions_addclose(&actions, in[1]);
    } else {
      posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    }
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    for (int fd : {out[0], err[0]}) posix_spawn_file_actions_addclose(&actions, fd);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()), 0);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    close(err[1]);
    if (input) {
      close(in[0]);
      readers_.emplace_back([fd = in[1], text = std::move(*input)] {
        [[maybe_unused]] auto n = write(fd, text.data(), text.size());
        close(fd);
      });
    }
    readers_.emplace_back([this, fd = out[0]] { collect(fd, out_); });
    readers_.emplace_back([this, fd = err[0]] { collect(fd, err_); });
  }
  ~Background() {
    if (status_ < 0 && pid_ > 0) {
      kill(pid_, SIGKILL);
      wait(5s);
    }
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  /// Waits until stderr matches `pattern`; returns the match's first group ("" on timeout).
  std::string wait_for_err(const std::string& pattern, std::chrono::milliseconds timeout = 10s) {
    const std::regex re(pattern);
    std::unique_lock lock(mu_);
    std::smatch m;
    cv_.wait_for(lock, timeout, [&] { return std::regex_search(err_, m, re); });
    return m.size() > 1 ? m[1].str() : (m.empty() ? "" : m[0].str());
  }
  std::string out() {
    std::lock_guard lock(mu_);
    return out_;
  }
  std::string err() {
    std::lock_guard lock(mu_);
    return err_;
  }
  void signal(int sig) { kill(pid_, sig); }
  /// The exit status, or -1 when it did not exit within `timeout`.
  int wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (status_ < 0 && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        for (auto& r : readers_) r.join();
        readers_.clear();
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
    return status_;
  }

 private:
  void collect(int fd, std::string& into) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
      std::lock_guard lock(mu_);
      into.append(buf, static_cast<std::size_t>(n));
      cv_.notify_all();
    }
    close(fd);
  }

  pid_t pid_ = -1;
  int status_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string out_, err_;
  std::vector<std::jthread> readers_;
};

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

/// Runs reflexctl with `args`, feeding `input` on stdin; killed after 30 s (status -1).
inline Result run(std::vector<std::string> args, const std::string& input = {}) {
  Background process(std::move(args), {}, input);
  const int status = process.wait(30s);
  return {.status = status, .out = process.out(), .err = process.err()};
}

/// A fresh events table on the server named by `dsn_variable`, as a reflexctl source.
inline std::string server_source(const char* dsn_variable) {
  const std::string dsn = reflex_test::required_env(dsn_variable);
  const std::string table = reflex_test::unique_name("ctl");
  reflex::rsql::Database::open(dsn)->create_events_table({.table = table});
  return dsn + "?table=" + table;
}

struct HttpReply {
  int status = 0;
  std::string body;
};

/// GET http://127.0.0.1:PORT/PATH (one request, the connection closed by the server).
inline HttpReply http_get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const timeval limit{10, 0};  // a server that never answers must not hang the test
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  HttpReply reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
    EXPECT_EQ(send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
    std::string all;
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) all.append(buf, static_cast<std::size_t>(n));
    if (all.starts_with("HTTP/1.1 ")) reply.status = std::stoi(all.substr(9, 3));
    if (const auto head = all.find("\r\n\r\n"); head != std::string::npos)
      reply.body = all.substr(head + 4);
  }
  close(fd);
  return reply;
}

/// A loopback socket bound to a free port: closed() leaves nothing listening there (connections
/// are refused), silent() listens but never answers (connections hang).
class LoopbackPort {
 public:
  static LoopbackPort closed() { return LoopbackPort(false); }
  static LoopbackPort silent() { return LoopbackPort(true); }
  ~LoopbackPort() {
    if (fd_ >= 0) close(fd_);
  }
  LoopbackPort(const LoopbackPort&) = delete;
  LoopbackPort& operator=(const LoopbackPort&) = delete;
  LoopbackPort(LoopbackPort&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), port_(other.port_) {}
  [[nodiscard]] int port() const { return port_; }

 private:
  explicit LoopbackPort(bool listening) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t size = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &size);
    port_ = ntohs(addr.sin_port);
    if (listening) {
      EXPECT_EQ(listen(fd_, 64), 0);
    } else {
      close(fd_);
      fd_ = -1;
    }
  }
  int fd_;
  int port_ = 0;
};

/// A nats-server of the test's own, with JetStream and a user and password, on a free loopback
/// port and its own state dir; stopped by the destructor.
class NatsServerWithPassword {
 public:
  NatsServerWithPassword(const std::string& user, const std::string& password) {
    port_ = LoopbackPort::closed().port();
    const std::string log = (dir_.path() / "log").string();
    std::vector<std::string> args = {
        "nats-server", "-js",       "-sd",    (dir_.path() / "store").string(),
        "-a",          "127.0.0.1", "-p",     std::to_string(port_),
        "-l",          log,         "--user", user,
        "--pass",      password};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    for (int fd : {0, 1, 2}) {
      posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
    }
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID);
    EXPECT_EQ(posix_spawnp(&pid_, "nats-server", &actions, &attributes, argv.data(), environ), 0);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream file(log);
      const std::string text((std::istreambuf_iterator<char>(file)),
                             std::istreambuf_iterator<char>());
      if (text.find("Server is ready") != std::string::npos) {
        ready_ = true;
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
  ~NatsServerWithPassword() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);  // our child: reaped here, not by PID 1
  }
  NatsServerWithPassword(const NatsServerWithPassword&) = delete;
  NatsServerWithPassword& operator=(const NatsServerWithPassword&) = delete;

  [[nodiscard]] bool ready() const { return ready_; }
  [[nodiscard]] int port() const { return port_; }

 private:
  reflex_test::TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool ready_ = false;
};

class Reflexctl : public ::testing::Test {
 protected:
  void SetUp() override {
    db = reflex::rsql::Database::open("sqlite://" + path);
    db->create_events_table({.table = "events"});
    db->create_cursors_table({.table = "cursors"});
  }
  reflex_test::TempDir dir;
  std::string path = (dir.path() / "app.db").string();
  std::string source = "sqlite://" + path + "?table=events";
  std::string store = "sqlite://" + path + "?table=cursors";
  std::shared_ptr<reflex::rsql::Database> db;
};

}  // namespace reflexctl_test
