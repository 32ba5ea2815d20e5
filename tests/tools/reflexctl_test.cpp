// reflexctl driven as a process, against temp-file SQLite and the throwaway PostgreSQL.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "reflex/rnats/rnats.hpp"
#include "reflex/rsql/rsql.hpp"
#include "reflex_test/env.hpp"

extern char** environ;

namespace {

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

/// Runs reflexctl with `args`, feeding `input` on stdin; bounded at 30 s.
Result run(std::vector<std::string> args, const std::string& input = {}) {
  args.insert(args.begin(), REFLEXCTL);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int in[2], out[2], err[2];
  EXPECT_EQ(pipe(in), 0);
  EXPECT_EQ(pipe(out), 0);
  EXPECT_EQ(pipe(err), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  for (int fd : {in[1], out[0], err[0]}) posix_spawn_file_actions_addclose(&actions, fd);
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  std::jthread writer([&] {
    [[maybe_unused]] auto n = write(in[1], input.data(), input.size());
    close(in[1]);
  });
  Result result;
  std::jthread err_reader([&] {
    char buf[4096];
    ssize_t n;
    while ((n = read(err[0], buf, sizeof buf)) > 0)
      result.err.append(buf, static_cast<std::size_t>(n));
  });
  char buf[4096];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) > 0)
    result.out.append(buf, static_cast<std::size_t>(n));
  err_reader.join();
  int status = 0;
  waitpid(pid, &status, 0);
  close(out[0]);
  close(err[0]);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

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
      {{"tail", source, "--bogus"}, 2, "unknown option"},
      {{"tail", "postgresql://u:pw@127.0.0.1:1/db?table=events", "--to-head"}, 1, "unreachable"},
      {{"schema", "oracle"}, 2, "unknown dialect"},
  };
  for (const auto& c : cases) {
    const auto r = run(c.args);
    EXPECT_EQ(r.status, c.status) << r.err;
    EXPECT_NE(r.err.find(c.says) + r.out.find(c.says), 2 * std::string::npos) << r.err << r.out;
  }
}

TEST(ReflexctlPostgres, PublishesAndTailsAPostgresOutbox) {
  const std::string dsn = reflex_test::required_env("REFLEX_TEST_PG_DSN");
  const std::string table = reflex_test::unique_name("ctl");
  reflex::rsql::Database::open(dsn)->create_events_table({.table = table});
  const std::string source = dsn + "?table=" + table;
  ASSERT_EQ(run({"publish", source, "--batch", "2"},
                "{\"foreign_id\":\"1\",\"type\":1}\n{\"foreign_id\":\"2\",\"type\":1}\n"
                "{\"foreign_id\":\"3\",\"type\":1}\n")
                .status,
            0);
  EXPECT_EQ(lines(run({"tail", source, "--to-head"}).out).size(), 3u);
}

}  // namespace
