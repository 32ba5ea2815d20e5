#pragma once
// Programs run by tests as child processes: a tool under test, a peer that must vanish, a server
// of the test's own.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace reflex_test {

/// How to start a Process.
struct ProcessOptions {
  /// "NAME=value" entries added to the test's environment, replacing its own value of NAME.
  std::vector<std::string> env{};
  /// Written to the child's stdin, which is then closed; none: stdin is /dev/null.
  std::optional<std::string> input{};
  /// Collect stdout and stderr (out(), err(), wait_for_*); otherwise both go to /dev/null.
  bool capture = true;
  /// Start the child in a session of its own (setsid), as a daemon: a signal to the test's
  /// process group does not reach it.
  bool new_session = false;
};

/// A child process: `args[0]` is the program (a path, or a name looked up in PATH), the rest its
/// arguments. Its output is collected on threads of this object while it runs (and until its
/// pipes fall silent for 50 ms after it exited, should a process it started keep them open). The
/// destructor kills (SIGKILL) and reaps a child that is still running, so no test leaves one
/// behind.
/// Not thread-safe, except out(), err() and wait_for_*(), which may be called from any thread.
class Process {
 public:
  /// Starts the program; throws std::system_error when it cannot be started.
  explicit Process(std::vector<std::string> args, ProcessOptions options = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// Everything the child wrote to stdout / stderr so far (empty unless captured).
  [[nodiscard]] std::string out();
  [[nodiscard]] std::string err();
  /// Waits until stdout / stderr matches the ECMAScript regex `pattern`, for at most `timeout`;
  /// returns the match's first group, or the whole match without one, or "" on timeout.
  std::string wait_for_out(const std::string& pattern,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::string wait_for_err(const std::string& pattern,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));

  void signal(int sig);
  /// Waits at most `timeout` for the child to exit and reaps it; returns its exit status
  /// (128 + the signal's number when a signal ended it), or -1 when it is still running.
  /// Once it has returned a status, out() and err() hold all the child wrote, and later calls
  /// return the same status at once.
  int wait(std::chrono::milliseconds timeout);
  /// SIGKILL, then waits (at most 10 s) for the child to be gone; returns what wait() does.
  int kill();

 private:
  std::string wait_for(const std::string& text, const std::string& pattern,
                       std::chrono::milliseconds timeout);
  void collect(int fd, std::string& into);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int status_ = -1;
  std::atomic<bool> exited_{false};  // reaped: collectors stop at the pipe's first silence
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string out_;
  std::string err_;
  std::vector<std::jthread> threads_;  // the stdin writer and the output collectors
};

/// What a program run to its end returned and wrote.
struct ProcessResult {
  int status = -1;
  std::string out;
  std::string err;
};

/// Runs the program to its end, for at most `timeout` (then kills it); its status is -1 when it
/// had to be killed.
ProcessResult run_process(std::vector<std::string> args, ProcessOptions options = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace reflex_test
