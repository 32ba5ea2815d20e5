// reflexctl backfill's progress: a line every --progress-every in a job log (events done, rate,
// events left to the head, ETA), a bar redrawn in place on a terminal, and a summary that counts
// what a job stopped by SIGTERM did.

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>

#include "reflexctl_harness.hpp"

namespace {

using namespace reflexctl_test;
using namespace std::chrono_literals;

std::string events(int n) {
  std::string out;
  for (int i = 1; i <= n; ++i) out += "{\"foreign_id\":\"" + std::to_string(i) + "\",\"type\":1}\n";
  return out;
}

TEST_F(Reflexctl, BackfillWritesProgressLinesToTheHeadAndCountsWhatItDidWhenStopped) {
  ASSERT_EQ(run({"publish", source, "--batch", "100"}, events(20)).status, 0);
  // Not to the head: it follows the stream until SIGTERM.
  Background job({"backfill", source, "--consumer", "slow", "--cursors", store, "--batch", "2",
                  "--progress-every", "100ms", "--", "sh", "-c", "cat >/dev/null; sleep 0.1"});
  const std::regex line(
      "reflexctl backfill slow: ([0-9]+) events done, [0-9.]+/s, ([0-9]+) left to the head, "
      "ETA [0-9a-z.]+, cursor ([0-9]+)\n");
  EXPECT_FALSE(job.wait_for_err("events done, [0-9.]+/s, [0-9]+ left").empty()) << job.err();
  // Caught up: nothing left.
  EXPECT_FALSE(job.wait_for_err("20 events done, [0-9.]+/s, 0 left to the head").empty())
      << job.err();
  job.signal(SIGTERM);
  EXPECT_EQ(job.wait(10s), 0) << job.err();
  const std::string err = job.err();
  int shown = 0;
  for (auto it = std::sregex_iterator(err.begin(), err.end(), line); it != std::sregex_iterator();
       ++it) {
    const int done = std::stoi((*it)[1]);
    const int left = std::stoi((*it)[2]);
    EXPECT_EQ(done + left, 20) << "left counts to the head, not the read buffer: " << (*it)[0];
    EXPECT_EQ(std::stoi((*it)[3]), done) << (*it)[0];
    ++shown;
  }
  EXPECT_GE(shown, 2) << err;
  EXPECT_NE(err.find("reflexctl backfill slow: stopped after 20 events in "), std::string::npos)
      << err;
  EXPECT_NE(err.find("cursor 20"), std::string::npos) << err;
}

TEST_F(Reflexctl, BackfillDrawsABarInPlaceOnATerminal) {
  ASSERT_EQ(run({"publish", source, "--batch", "100"}, events(10)).status, 0);
  // stderr is a pseudo-terminal: reflexctl sees a terminal there.
  const int master = posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  const int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
  ASSERT_GE(slave, 0);
  std::vector<std::string> args = {reflexctl_binary(),
                                   "backfill",
                                   source,
                                   "--consumer",
                                   "bar",
                                   "--cursors",
                                   store,
                                   "--to-head",
                                   "--",
                                   "sh",
                                   "-c",
                                   "cat >/dev/null; sleep 0.1"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, slave, 2);
  posix_spawn_file_actions_addclose(&actions, master);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(slave);
  // Everything written on the terminal, until reflexctl exits (then reading fails with EIO).
  std::string screen;
  const timeval limit{20, 0};
  fd_set ready;
  for (;;) {
    FD_ZERO(&ready);
    FD_SET(master, &ready);
    timeval wait = limit;
    if (select(master + 1, &ready, nullptr, nullptr, &wait) <= 0) break;
    char buf[4096];
    const auto n = read(master, buf, sizeof buf);
    if (n <= 0) break;
    screen.append(buf, static_cast<std::size_t>(n));
  }
  close(master);
  int status = -1;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << screen;
  // Redrawn in place (a carriage return, no newline between draws), cleared at the end.
  EXPECT_NE(screen.find("\rreflexctl backfill bar: ["), std::string::npos) << screen;
  EXPECT_NE(screen.find("/10 events"), std::string::npos) << screen;
  EXPECT_NE(screen.find("ETA "), std::string::npos) << screen;
  const auto summary = screen.find("reflexctl backfill bar: 10 events in ");
  ASSERT_NE(summary, std::string::npos) << screen;
  EXPECT_NE(screen.find("reached the head"), std::string::npos) << screen;
  EXPECT_EQ(screen.substr(0, summary).find('\n'), std::string::npos)
      << "one line, redrawn, before the summary: " << screen;
}

}  // namespace
