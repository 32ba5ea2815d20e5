// reflexctl driven as a process, against temp-file SQLite and the throwaway PostgreSQL, MariaDB
// and nats-server.

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
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "reflex/rnats/rnats.hpp"
#include "reflex/rsql/rsql.hpp"
#include "reflex_test/env.hpp"

extern char** environ;

namespace {

std::vector<std::string> lines(const std::string& text) {
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

/// reflexctl as a process: `input` fed on its stdin (none: /dev/null), its output collected while
/// it runs. The destructor kills it if a test left it running.
class Background {
 public:
  explicit Background(std::vector<std::string> args, std::vector<std::string> env = {},
                      std::optional<std::string> input = std::nullopt) {
    // A process that exits without reading its input must not kill the test with SIGPIPE.
    static const bool sigpipe_ignored = (::signal(SIGPIPE, SIG_IGN), true);
    (void)sigpipe_ignored;
    args.insert(args.begin(), REFLEXCTL);
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
Result run(std::vector<std::string> args, const std::string& input = {}) {
  Background process(std::move(args), {}, input);
  const int status = process.wait(30s);
  return {.status = status, .out = process.out(), .err = process.err()};
}

/// A fresh events table on the server named by `dsn_variable`, as a reflexctl source.
std::string server_source(const char* dsn_variable) {
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
HttpReply http_get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
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

TEST_F(Reflexctl, PublishThenTailToHeadPrintsEveryEventAsJson) {
  const auto published = run({"publish", source},
                             "{\"foreign_id\":\"a\",\"type\":1,\"metadata\":\"aGk=\"}\n"
                             "{\"foreign_id\":\"b\",\"type\":2}\n");
  ASSERT_EQ(published.status, 0) << published.err;
  const auto tailed = run({"tail", source, "--to-head"});
  ASSERT_EQ(tailed.status, 0) << tailed.err;
  const auto got = lines(tailed.out);
  ASSERT_EQ(got.size(), 2u) << tailed.out;
  EXPECT_TRUE(got[0].starts_with(R"({"id":"1","type":1,"foreign_id":"a","timestamp":")")) << got[0];
  EXPECT_NE(got[0].find(R"("metadata":"aGk=")"), std::string::npos) << got[0];
  EXPECT_NE(got[0].find("Z\""), std::string::npos) << "RFC 3339 UTC: " << got[0];
  EXPECT_EQ(got[1].find("metadata"), std::string::npos) << "empty metadata is omitted";

  EXPECT_EQ(lines(run({"tail", source, "--to-head", "--after", "1"}).out).size(), 1u);
  EXPECT_EQ(lines(run({"tail", source, "--to-head", "--types", "2"}).out).size(), 1u);
  EXPECT_EQ(lines(run({"tail", source, "--limit", "1"}).out).size(), 1u);
}

TEST_F(Reflexctl, ABadPublishLineIsRejectedWithItsNumberAndNothingAfterItIsWritten) {
  const auto r = run({"publish", source},
                     "{\"foreign_id\":\"a\",\"type\":1}\n{\"foreign_id\":\"b\"}\n"
                     "{\"foreign_id\":\"c\",\"type\":1}\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
  EXPECT_EQ(lines(run({"tail", source, "--to-head"}).out).size(), 1u);
}

TEST_F(Reflexctl, CursorsAreSetReadListedAndNeverRewoundWithoutForce) {
  EXPECT_EQ(run({"cursors", "set", store, "billing", "10"}).status, 0);
  EXPECT_EQ(run({"cursors", "get", store, "billing"}).out, "10\n");
  const auto back = run({"cursors", "set", store, "billing", "5"});
  EXPECT_EQ(back.status, 2);
  EXPECT_NE(back.err.find("--force"), std::string::npos) << back.err;
  EXPECT_EQ(run({"cursors", "set", store, "billing", "5", "--force"}).status, 0);
  EXPECT_EQ(run({"cursors", "list", store}).out, "billing\t5\n");
  EXPECT_EQ(run({"cursors", "delete", store, "billing"}).status, 0);
  EXPECT_EQ(run({"cursors", "get", store, "billing"}).out, "\n");
}

TEST(ReflexctlNats, CursorsInAKvBucketAreSetReadListedDeletedAndNeverRewoundWithoutForce) {
  const std::string url = reflex_test::required_env("REFLEX_TEST_NATS_URL");
  const std::string bucket = reflex_test::unique_name("CTLCUR");
  const std::string store = url + "?bucket=" + bucket;
  reflex::rnats::Connection conn({.url = url, .name = "reflexctl-test"});
  struct RemoveBucket {
    reflex::rnats::Connection& conn;
    const std::string& bucket;
    ~RemoveBucket() {
      try {
        reflex::rnats::StateStore::remove(conn, bucket);
      } catch (...) {
      }
    }
  } remove_bucket{conn, bucket};

  // A mistyped bucket is an error, not a new empty bucket.
  const auto missing = run({"cursors", "list", store});
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("no KV bucket \"" + bucket + "\""), std::string::npos) << missing.err;
  EXPECT_FALSE(reflex::rnats::StateStore::remove(conn, bucket)) << "the bucket was created";
  (void)reflex::rnats::StateStore::ensure(conn, {.name = bucket});  // as backfill or relay would
  EXPECT_EQ(run({"cursors", "list", store}).out, "");
  const auto set = run({"cursors", "set", store, "billing", "10"});
  EXPECT_EQ(set.status, 0) << set.err;
  EXPECT_EQ(run({"cursors", "get", store, "billing"}).out, "10\n");
  const auto back = run({"cursors", "set", store, "billing", "5"});
  EXPECT_EQ(back.status, 2);
  EXPECT_NE(back.err.find("--force"), std::string::npos) << back.err;
  const auto forced = run({"cursors", "set", store, "billing", "5", "--force"});
  EXPECT_EQ(forced.status, 0) << forced.err;
  EXPECT_EQ(run({"cursors", "get", store, "billing"}).out, "5\n");
  EXPECT_EQ(run({"cursors", "set", store, "mailer/eu v2", "7"}).status, 0);
  const auto listed = run({"cursors", "list", store});
  EXPECT_EQ(listed.status, 0) << listed.err;
  EXPECT_EQ(listed.out, "billing\t5\nmailer/eu v2\t7\n");
  // The tool writes where the library reads: escaped keys in the bucket.
  const auto kv = reflex::rnats::StateStore::open(conn, bucket);
  EXPECT_EQ(kv.get(reflex::rnats::escape_key("mailer/eu v2"))->value, "7");

  const auto deleted = run({"cursors", "delete", store, "billing"});
  EXPECT_EQ(deleted.status, 0) << deleted.err;
  EXPECT_EQ(run({"cursors", "get", store, "billing"}).out, "\n");
  const auto again = run({"cursors", "delete", store, "billing"});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.err.find("reflexctl cursors: no cursor named 'billing'"), std::string::npos)
      << again.err;
  EXPECT_EQ(run({"cursors", "list", store}).out, "mailer/eu v2\t7\n");
  // After a delete the cursor starts afresh: a low value is no rewind.
  EXPECT_EQ(run({"cursors", "set", store, "billing", "1"}).status, 0);
  EXPECT_EQ(run({"cursors", "get", store, "billing"}).out, "1\n");
}

TEST_F(Reflexctl, BackfillStopsAtAFailingCommandAndResumesThere) {
  ASSERT_EQ(run({"publish", source},
                "{\"foreign_id\":\"1\",\"type\":1}\n{\"foreign_id\":\"2\",\"type\":1}\n"
                "{\"foreign_id\":\"3\",\"type\":1}\n{\"foreign_id\":\"4\",\"type\":1}\n")
                .status,
            0);
  const std::string seen = (dir.path() / "seen").string();
  // Records each event's foreign id; fails on foreign id 3 while the file "broken" exists.
  const std::string broken = (dir.path() / "broken").string();
  const std::string script =
      "read line; id=$(echo \"$line\" | sed 's/.*\"foreign_id\":\"\\([0-9]*\\)\".*/\\1/'); "
      "if [ \"$id\" = 3 ] && [ -e " +
      broken + " ]; then exit 7; fi; echo $id >> " + seen;
  ASSERT_EQ(std::system(("touch " + broken).c_str()), 0);
  const auto first = run({"backfill", source, "--consumer", "mailer", "--cursors", store,
                          "--to-head", "--", "sh", "-c", script});
  EXPECT_EQ(first.status, 7) << first.err;
  EXPECT_NE(first.err.find("command failed with status 7"), std::string::npos) << first.err;
  EXPECT_EQ(run({"cursors", "get", store, "mailer"}).out, "2\n");

  std::filesystem::remove(broken);
  const auto second = run({"backfill", source, "--consumer", "mailer", "--cursors", store,
                           "--to-head", "--", "sh", "-c", script});
  EXPECT_EQ(second.status, 0) << second.err;
  EXPECT_NE(second.err.find("2 events"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("reached the head"), std::string::npos) << second.err;
  std::ifstream file(seen);
  std::string all((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(all, "1\n2\n3\n4\n");
}

TEST_F(Reflexctl, RelayThenTailTheJetStreamStream) {
  const std::string url = reflex_test::required_env("REFLEX_TEST_NATS_URL");
  const std::string stream = reflex_test::unique_name("CTL");
  ASSERT_EQ(run({"publish", source},
                "{\"foreign_id\":\"x\",\"type\":1}\n{\"foreign_id\":\"y\",\"type\":2}\n")
                .status,
            0);
  // The relay's stream must exist: create it through the tool's own library.
  reflex::rnats::Connection conn({.url = url, .name = "reflexctl-test"});
  reflex::rnats::ensure_stream(
      conn,
      {.name = stream, .subjects = {stream + ".>"}, .storage = reflex::rnats::Storage::memory});
  const auto relayed =
      run({"relay", source, url + "?stream=" + stream + "&subject=" + stream + ".events",
           "--consumer", "outbox", "--to-head"});
  EXPECT_EQ(relayed.status, 0) << relayed.err;
  const auto tailed = run({"tail", url + "?stream=" + stream, "--to-head"});
  EXPECT_EQ(tailed.status, 0) << tailed.err;
  const auto got = lines(tailed.out);
  ASSERT_EQ(got.size(), 2u) << tailed.out << tailed.err;
  EXPECT_NE(got[0].find("\"foreign_id\":\"x\""), std::string::npos) << got[0];
  reflex::rnats::delete_stream(conn, stream);
}

TEST_F(Reflexctl, ServeStreamsNamedSourcesOverGrpcWithATokenAndDrainsOnSigterm) {
  ASSERT_EQ(run({"publish", source},
                "{\"foreign_id\":\"a\",\"type\":1}\n{\"foreign_id\":\"b\",\"type\":2}\n")
                .status,
            0);
  db->create_events_table({.table = "audit"});
  ASSERT_EQ(
      run({"publish", "sqlite://" + path + "?table=audit"}, "{\"foreign_id\":\"z\",\"type\":9}\n")
          .status,
      0);
  const std::string token_file = (dir.path() / "token").string();
  std::ofstream(token_file) << "s3cret\n";
  Background server({"serve", "--listen", "127.0.0.1:0", "--stream", "events=" + source, "--stream",
                     "audit=sqlite://" + path + "?table=audit", "--http", "127.0.0.1:0",
                     "--token-file", token_file});
  const std::string grpc_port = server.wait_for_err("gRPC on 127\\.0\\.0\\.1:([0-9]+)");
  const std::string http_port = server.wait_for_err("HTTP on port ([0-9]+)");
  ASSERT_FALSE(grpc_port.empty()) << server.err();
  ASSERT_FALSE(http_port.empty()) << server.err();
  const std::string address = "grpc://127.0.0.1:" + grpc_port;

  // The default stream is the first; ?stream= picks another; the token comes from a file.
  const auto events = run({"tail", address + "?token_file=" + token_file, "--to-head"});
  ASSERT_EQ(events.status, 0) << events.err;
  const auto got = lines(events.out);
  ASSERT_EQ(got.size(), 2u) << events.out;
  EXPECT_NE(got[1].find("\"foreign_id\":\"b\""), std::string::npos) << got[1];
  const auto audit = run({"tail", address + "?stream=audit&token_file=" + token_file, "--to-head"});
  ASSERT_EQ(audit.status, 0) << audit.err;
  ASSERT_EQ(lines(audit.out).size(), 1u) << audit.out;
  EXPECT_NE(audit.out.find("\"type\":9"), std::string::npos) << audit.out;

  const auto no_token = run({"tail", address, "--to-head"});
  EXPECT_EQ(no_token.status, 2) << no_token.err;
  EXPECT_NE(no_token.err.find("UNAUTHENTICATED"), std::string::npos) << no_token.err;
  const auto wrong_token = run({"tail", "grpc://:guess@127.0.0.1:" + grpc_port, "--to-head"});
  EXPECT_NE(wrong_token.err.find("UNAUTHENTICATED"), std::string::npos) << wrong_token.err;
  const auto unknown = run({"tail", address + "?stream=nope&token_file=" + token_file});
  EXPECT_EQ(unknown.status, 2) << unknown.err;
  EXPECT_NE(unknown.err.find("no stream named \"nope\""), std::string::npos) << unknown.err;

  const int http = std::stoi(http_port);
  EXPECT_EQ(http_get(http, "/healthz").status, 200);
  const auto ready = http_get(http, "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  const auto metrics = http_get(http, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("reflex_serve_events_sent_total 3"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("reflex_table_rows_loaded_total{table=\"events\"} 2"),
            std::string::npos)
      << metrics.body;
  EXPECT_EQ(http_get(http, "/nothing").status, 404);

  // A follower is open when SIGTERM comes: it is told the server stopped, the server exits 0.
  Background follower({"tail", address + "?token_file=" + token_file});
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (lines(follower.out()).size() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(lines(follower.out()).size(), 2u) << follower.err();
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(10s), 0) << server.err();
  EXPECT_NE(server.err().find("stopped; 3 streams served, 5 events sent"), std::string::npos)
      << server.err();
  EXPECT_EQ(follower.wait(10s), 1);
  EXPECT_NE(follower.err().find("stopped by the server"), std::string::npos) << follower.err();
}

TEST_F(Reflexctl, ServeTakesItsSettingsFromTheEnvironmentAndReportsUnreadySources) {
  Background server({"serve"}, {"REFLEX_LISTEN=127.0.0.1:0", "REFLEX_HTTP=127.0.0.1:0",
                                "REFLEX_STREAMS=events=" + source + " missing=sqlite://" + path +
                                    "?table=missing"});
  const std::string http_port = server.wait_for_err("HTTP on port ([0-9]+)");
  ASSERT_FALSE(http_port.empty()) << server.err();
  EXPECT_NE(server.err().find("streams: events, missing; default events"), std::string::npos)
      << server.err();
  const auto ready = http_get(std::stoi(http_port), "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("missing: table 'missing' does not exist"), std::string::npos)
      << ready.body;
  EXPECT_EQ(ready.body.find("events:"), std::string::npos) << ready.body;
  server.signal(SIGINT);
  EXPECT_EQ(server.wait(10s), 0) << server.err();
}

TEST_F(Reflexctl, SchemaPrintsTheDdlOfEachDialect) {
  for (const char* dialect : {"postgres", "mysql", "sqlite"}) {
    const auto r = run({"schema", dialect, "--events", "user_events"});
    EXPECT_EQ(r.status, 0) << dialect;
    EXPECT_NE(r.out.find("user_events"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("cursors"), std::string::npos) << r.out;
  }
}

TEST_F(Reflexctl, BadInputGivesAOneLineErrorAndTheRightExitCode) {
  struct Case {
    std::vector<std::string> args;
    int status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{}, 2, "usage"},
      {{"frobnicate"}, 2, "unknown command"},
      {{"tail"}, 2, "one SOURCE"},
      {{"tail", "oracle://h/db"}, 2, "unknown"},
      {{"tail", "sqlite://" + path}, 2, "table"},
      {{"tail", "sqlite://" + path + "?table=ev;drop"}, 2, "not a valid SQL name"},
      {{"tail", source, "--lag", "5parsecs"}, 2, "--lag"},
      {{"tail", source, "--after", "abc"}, 2, "not an event id"},
      {{"tail", source, "--bogus"}, 2, "unknown option"},
      {{"tail", "postgresql://u:pw@127.0.0.1:1/db?table=events", "--to-head"}, 1, "unreachable"},
      {{"schema", "oracle"}, 2, "unknown dialect"},
      {{"serve", "--stream", "a=" + source}, 2, "--listen"},
      {{"serve", "--listen", "127.0.0.1:0"}, 2, "--stream"},
      {{"serve", "--listen", "127.0.0.1:0", "--stream", source}, 2, "NAME=SOURCE"},
      {{"serve", "--listen", "127.0.0.1:0", "--stream", "a=" + source, "--stream", "a=" + source},
       2,
       "given twice"},
      {{"serve", "--listen", "127.0.0.1:0", "--stream", "a=" + source, "--token-file",
        "/nonexistent/token"},
       2,
       "token file"},
      {{"serve", "--listen", "127.0.0.1:0", "--stream", "a=" + source, "--tls-cert", "x.pem"},
       2,
       "--tls-key"},
      {{"tail", "grpc://127.0.0.1:1?token_file=/nonexistent/token"}, 2, "token file"},
      {{"tail", "grpc://127.0.0.1:1?colour=blue"}, 2, "colour"},
  };
  for (const auto& c : cases) {
    const auto r = run(c.args);
    EXPECT_EQ(r.status, c.status) << r.err;
    EXPECT_NE(r.err.find(c.says) + r.out.find(c.says), 2 * std::string::npos) << r.err << r.out;
  }
}

/// Publishes three events in batches of two to a server outbox and tails them after the first.
void publish_then_tail(const std::string& source) {
  ASSERT_EQ(run({"publish", source, "--batch", "2"},
                "{\"foreign_id\":\"1\",\"type\":1}\n{\"foreign_id\":\"2\",\"type\":1}\n"
                "{\"foreign_id\":\"3\",\"type\":7,\"metadata\":\"AAE=\"}\n")
                .status,
            0);
  const auto tailed = run({"tail", source, "--to-head", "--after", "1"});
  ASSERT_EQ(tailed.status, 0) << tailed.err;
  const auto got = lines(tailed.out);
  ASSERT_EQ(got.size(), 2u) << tailed.out;
  EXPECT_NE(got[0].find(R"("foreign_id":"2")"), std::string::npos) << got[0];
  EXPECT_NE(got[1].find(R"("type":7)"), std::string::npos) << got[1];
  EXPECT_NE(got[1].find(R"("metadata":"AAE=")"), std::string::npos) << got[1];
}

TEST(ReflexctlPostgres, PublishesAndTailsAPostgresOutbox) {
  publish_then_tail(server_source("REFLEX_TEST_PG_DSN"));
}

TEST(ReflexctlPostgres, AFollowerSeesEachPublishedEventWithinMilliseconds) {
  const std::string source = server_source("REFLEX_TEST_PG_DSN");
  Background follower({"tail", source});
  // The follower is at the head and idle (LISTENing) before the events come.
  std::this_thread::sleep_for(1500ms);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(
        run({"publish", source}, "{\"foreign_id\":\"" + std::to_string(i) + "\",\"type\":1}\n")
            .status,
        0);
    const auto published = std::chrono::steady_clock::now();
    while (lines(follower.out()).size() < static_cast<std::size_t>(i) &&
           std::chrono::steady_clock::now() - published < 5s)
      std::this_thread::sleep_for(1ms);
    const auto seen = std::chrono::steady_clock::now() - published;
    ASSERT_EQ(lines(follower.out()).size(), static_cast<std::size_t>(i)) << follower.err();
    // The idle poll is 1 s when notify is on: far below it means the wake-up came by NOTIFY.
    EXPECT_LT(seen, 300ms) << "event " << i;
  }
  follower.signal(SIGTERM);
  EXPECT_EQ(follower.wait(10s), 0) << follower.err();
}

TEST(ReflexctlMariaDb, PublishesAndTailsAMariaDbOutbox) {
  publish_then_tail(server_source("REFLEX_TEST_MYSQL_DSN"));
}

}  // namespace
