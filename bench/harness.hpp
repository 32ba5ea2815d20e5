#pragma once
// The benchmark harness: interleaved raw/reflex repetitions, medians, the table and the JSON.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

/// What every scenario gets: the mode and the servers of this run.
struct Config {
  bool quick = false;
  int reps = 3;
  std::string pg_dsn, mysql_dsn, nats_url;
  std::string self;               // this executable, for child processes (MEM)
  std::vector<std::string> only;  // scenario ids to run; empty: all

  /// How long a throughput measurement runs.
  [[nodiscard]] std::chrono::milliseconds window() const {
    return std::chrono::milliseconds(quick ? 1000 : 3000);
  }
  [[nodiscard]] bool wants(const std::string& id) const;
};

/// One line of the report. `ratio` is reflex/raw when both exist.
struct Row {
  std::string id{};
  std::string name{};
  std::string unit{};
  std::optional<double> raw{};
  std::optional<double> reflex{};
  std::optional<double> ratio{};
  std::string goal{};
  bool met = false;
  std::string note{};  // extra figures (p50, per-variant values)
};

/// Median of `values` (which it sorts).
[[nodiscard]] double median(std::vector<double> values);

/// Runs raw and reflex alternately `reps` times (so drift hits both alike) and returns their
/// medians.
[[nodiscard]] std::pair<double, double> interleave(int reps, const std::function<double()>& raw,
                                                   const std::function<double()>& reflex);

/// The same for any number of variants (rotating which goes first); medians in their order.
[[nodiscard]] std::vector<double> interleave(int reps,
                                             const std::vector<std::function<double()>>& variants);

/// A row whose goal is reflex/raw >= min_ratio (or <= max_ratio when `at_most`).
[[nodiscard]] Row ratio_row(std::string id, std::string name, std::string unit, double raw,
                            double reflex, double bound, bool at_most = false);

/// Operations per second of `op` called in a loop by `threads` threads for `window`: each thread
/// calls op(thread index) and counts the operations it returns.
[[nodiscard]] double throughput(int threads, std::chrono::milliseconds window,
                                const std::function<std::uint64_t(int)>& op);

/// p-th percentile (0..100) of `values` (sorted in place).
[[nodiscard]] double percentile(std::vector<double>& values, double p);

/// CPU time (user + system) this process used so far, in seconds.
[[nodiscard]] double cpu_seconds();

void print_table(const std::vector<Row>& rows);
void write_json(const std::string& path, const std::vector<Row>& rows,
                const std::vector<std::pair<std::string, std::string>>& machine);

/// A child process of the benchmark (this binary re-run in a child mode), its stdout on a pipe.
/// Not thread-safe. Lifetime: the destructor kills (SIGKILL) and reaps it if it still runs.
class ChildProcess final {
 public:
  /// Starts `args[0]` with the rest as arguments; throws when it cannot.
  explicit ChildProcess(std::vector<std::string> args);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void signal(int sig) const;
  /// Sends `sig` and returns the line the child answers with.
  [[nodiscard]] std::string ask(int sig) const;
  /// Reads the rest of its output and waits for its exit; throws unless it exited with 0.
  [[nodiscard]] std::string finish();

 private:
  int pid_ = -1;
  int out_ = -1;
};

/// Logs progress to stderr.
void log(const std::string& text);

}  // namespace bench
