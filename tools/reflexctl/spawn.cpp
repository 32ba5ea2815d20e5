// Child processes for backfill's COMMAND (see spawn.hpp).

#include "spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "reflex/errors.hpp"

extern char** environ;

namespace reflexctl {
namespace {

/// Writes `input` to `fd`. A reader that has gone away (EPIPE) ends the writing: SIGPIPE is
/// blocked in this thread meanwhile, and the one it raised is taken, so it neither kills
/// reflexctl nor fires later.
void write_input(int fd, std::string_view input) {
  sigset_t pipe_signal, previous;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, &previous);
  bool broken = false;
  while (!input.empty()) {
    const auto n = ::write(fd, input.data(), input.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      broken = errno == EPIPE;
      break;
    }
    input.remove_prefix(static_cast<std::size_t>(n));
  }
  if (broken) {
    const timespec now{0, 0};
    sigtimedwait(&pipe_signal, nullptr, &now);
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

}  // namespace

int run_command(const std::vector<std::string>& command, std::string_view input) {
  std::vector<char*> argv;
  for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0)
    throw reflex::Error("cannot create a pipe: " + std::string(std::strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  // The child starts with no signal blocked: reflexctl blocks SIGINT/SIGTERM in all its threads
  // (signals.hpp), and a blocked mask survives exec.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &actions, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  if (rc != 0) {
    ::close(in[1]);
    throw reflex::ConfigError("cannot run '" + command[0] + "': " + std::strerror(rc));
  }
  write_input(in[1], input);
  ::close(in[1]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace reflexctl
