#include "reflex_test/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <regex>
#include <system_error>

extern char** environ;

namespace reflex_test {

namespace {

using Clock = std::chrono::steady_clock;

/// Owns the file actions and attributes of one posix_spawn call.
struct SpawnSetup {
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
  }
  ~SpawnSetup() {
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
};

void pipe_or_throw(int fds[2]) {
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
}

}  // namespace

Process::Process(std::vector<std::string> args, ProcessOptions options) {
  if (options.input) {
    // A child that exits without reading its input must not kill the test with SIGPIPE.
    static const bool sigpipe_ignored = (::signal(SIGPIPE, SIG_IGN), true);
    (void)sigpipe_ignored;
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The test's environment without the variables `options.env` sets: with a duplicate the
  // child would choose (bash takes the last one, getenv the first).
  std::vector<std::string> env = std::move(options.env);
  const auto own = static_cast<std::ptrdiff_t>(env.size());
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto name = entry.substr(0, entry.find('=') + 1);  // "NAME="
    if (std::none_of(env.begin(), env.begin() + own,
                     [&](const std::string& set) { return set.starts_with(name); })) {
      env.emplace_back(entry);
    }
  }
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  // Pipes are close-on-exec: the child keeps only the ends dup2'd onto 0, 1 and 2.
  int in[2] = {-1, -1};
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  if (options.input) pipe_or_throw(in);
  if (options.capture) {
    pipe_or_throw(out);
    pipe_or_throw(err);
  }
  SpawnSetup setup;
  if (options.input) {
    posix_spawn_file_actions_adddup2(&setup.actions, in[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  }
  if (options.capture) {
    posix_spawn_file_actions_adddup2(&setup.actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&setup.actions, err[1], 2);
  } else {
    posix_spawn_file_actions_addopen(&setup.actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&setup.actions, 2, "/dev/null", O_WRONLY, 0);
  }
  if (options.new_session) posix_spawnattr_setflags(&setup.attributes, POSIX_SPAWN_SETSID);
  const int rc =
      posix_spawnp(&pid_, argv[0], &setup.actions, &setup.attributes, argv.data(), envp.data());
  for (int fd : {in[0], out[1], err[1]}) {
    if (fd >= 0) ::close(fd);
  }
  if (rc != 0) {
    for (int fd : {in[1], out[0], err[0]}) {
      if (fd >= 0) ::close(fd);
    }
    pid_ = -1;
    throw std::system_error(rc, std::generic_category(), "cannot start " + args.front());
  }
  // Through syscall(): glibc 2.36's <sys/pidfd.h> lacks C linkage for C++. -1 where the kernel
  // has no pidfd_open: wait() then polls.
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (options.input) {
    threads_.emplace_back([fd = in[1], text = std::move(*options.input)] {
      [[maybe_unused]] const auto n = ::write(fd, text.data(), text.size());
      ::close(fd);
    });
  }
  if (options.capture) {
    threads_.emplace_back([this, fd = out[0]] { collect(fd, out_); });
    threads_.emplace_back([this, fd = err[0]] { collect(fd, err_); });
  }
}

Process::~Process() {
  if (pid_ > 0 && status_ < 0) (void)kill();
  threads_.clear();  // joins: the child is gone, its pipes are closed
  if (pidfd_ >= 0) ::close(pidfd_);
}

std::string Process::out() {
  std::lock_guard lock(mutex_);
  return out_;
}

std::string Process::err() {
  std::lock_guard lock(mutex_);
  return err_;
}

std::string Process::wait_for_out(const std::string& pattern, std::chrono::milliseconds timeout) {
  return wait_for(out_, pattern, timeout);
}

std::string Process::wait_for_err(const std::string& pattern, std::chrono::milliseconds timeout) {
  return wait_for(err_, pattern, timeout);
}

std::string Process::wait_for(const std::string& text, const std::string& pattern,
                              std::chrono::milliseconds timeout) {
  const std::regex re(pattern);
  std::unique_lock lock(mutex_);
  std::smatch m;
  changed_.wait_for(lock, timeout, [&] { return std::regex_search(text, m, re); });
  return m.size() > 1 ? m[1].str() : (m.empty() ? "" : m[0].str());
}

void Process::signal(int sig) {
  if (pid_ > 0 && status_ < 0) ::kill(pid_, sig);
}

int Process::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0 || status_ >= 0) return status_;
  const auto deadline = Clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      // The child's ends of the pipes closed with it: the collectors finish what it wrote, so
      // out() and err() are complete from here on.
      exited_ = true;
      threads_.clear();
      return status_;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return -1;
    if (pidfd_ >= 0) {
      // Readable once the child has exited: no polling.
      pollfd fd{pidfd_, POLLIN, 0};
      (void)::poll(&fd, 1, static_cast<int>(left.count()) + 1);
    } else {
      std::this_thread::sleep_for(std::min(pause, left));
      pause = std::min(pause * 2, std::chrono::milliseconds(10));
    }
  }
}

int Process::kill() {
  signal(SIGKILL);
  return wait(std::chrono::seconds(10));
}

void Process::collect(int fd, std::string& into) {
  char buf[4096];
  for (;;) {
    pollfd ready{fd, POLLIN, 0};
    const int r = ::poll(&ready, 1, 50);
    if (r > 0) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;  // end of file: every writer closed the pipe
      std::lock_guard lock(mutex_);
      into.append(buf, static_cast<std::size_t>(n));
      changed_.notify_all();
    } else if (r < 0 && errno != EINTR) {
      break;
    } else if (exited_) {
      // The child is gone and nothing came for 50 ms: what still holds the pipe open is a
      // process it left behind, whose output is not the child's.
      break;
    }
  }
  ::close(fd);
}

ProcessResult run_process(std::vector<std::string> args, ProcessOptions options,
                          std::chrono::milliseconds timeout) {
  Process process(std::move(args), std::move(options));
  int status = process.wait(timeout);
  if (status < 0) (void)process.kill();
  return {.status = status, .out = process.out(), .err = process.err()};
}

}  // namespace reflex_test
