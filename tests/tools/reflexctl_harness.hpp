#pragma once
// The harness of the reflexctl tests: reflexctl run as a process (Background, run), HTTP GET,
// loopback ports that refuse or never answer, a nats-server with a password, and the fixture
// with a temp-file SQLite outbox.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "reflex/rsql/rsql.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/lines.hpp"
#include "reflex_test/process.hpp"
#include "reflex_test/wait.hpp"

namespace reflexctl_test {

using namespace std::chrono_literals;
using reflex_test::lines;

/// The reflexctl under test: this build's, or the one REFLEXCTL_BINARY names (to check that a
/// test fails on an older build).
inline std::string reflexctl_binary() {
  const char* other = std::getenv("REFLEXCTL_BINARY");
  return other != nullptr && *other != '\0' ? other : REFLEXCTL;
}

/// reflexctl as a child process (reflex_test::Process): `input` fed on its stdin (none:
/// /dev/null), `env` entries before the test's environment, its output collected while it runs.
/// The destructor kills it if a test left it running.
class Background : public reflex_test::Process {
 public:
  explicit Background(std::vector<std::string> args, std::vector<std::string> env = {},
                      std::optional<std::string> input = std::nullopt)
      : Process(with_program(std::move(args)), {.env = std::move(env), .input = std::move(input)}) {
  }

 private:
  static std::vector<std::string> with_program(std::vector<std::string> args) {
    args.insert(args.begin(), reflexctl_binary());
    return args;
  }
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
/// port and its own state dir. ready() once its log says so (waited for at most 10 s); stopped
/// by the destructor (SIGTERM, then SIGKILL after 10 s).
class NatsServerWithPassword {
 public:
  NatsServerWithPassword(const std::string& user, const std::string& password)
      : port_(LoopbackPort::closed().port()),
        log_((dir_.path() / "log").string()),
        server_({"nats-server", "-js", "-sd", (dir_.path() / "store").string(), "-a", "127.0.0.1",
                 "-p", std::to_string(port_), "-l", log_, "--user", user, "--pass", password},
                {.capture = false, .new_session = true}) {
    ready_ = reflex_test::eventually(
        [&] {
          std::ifstream file(log_);
          const std::string text((std::istreambuf_iterator<char>(file)),
                                 std::istreambuf_iterator<char>());
          return text.find("Server is ready") != std::string::npos;
        },
        10s);
  }
  ~NatsServerWithPassword() {
    server_.signal(SIGTERM);
    (void)server_.wait(10s);  // our child: reaped here, not by PID 1
  }
  NatsServerWithPassword(const NatsServerWithPassword&) = delete;
  NatsServerWithPassword& operator=(const NatsServerWithPassword&) = delete;

  [[nodiscard]] bool ready() const { return ready_; }
  [[nodiscard]] int port() const { return port_; }

 private:
  reflex_test::TempDir dir_;  // outlives the server that writes into it
  int port_;
  std::string log_;
  reflex_test::Process server_;
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
