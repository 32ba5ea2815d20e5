#pragma once
// The benchmark harness: many short alternating rounds of raw and reflex, the median ratio with
// its spread, the table and the JSON.

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
  int rounds = 0;  // rounds per row (--rounds); 0: 15, or 5 when quick
  std::string pg_dsn, mysql_dsn, nats_url;
  std::string self;               // this executable, for child processes (MEM)
  std::vector<std::string> only;  // scenario ids to run; empty: all

  /// How long one round of a throughput measurement runs. Short, so that many rounds fit: a
  /// ratio taken from adjacent short rounds sees the same machine state on both sides.
  [[nodiscard]] std::chrono::milliseconds window() const {
    return std::chrono::milliseconds(quick ? 300 : 500);
  }
  /// Rounds a row takes at most.
  [[nodiscard]] int max_rounds() const { return rounds > 0 ? rounds : quick ? 5 : 15; }
  /// The rounds of a row whose operations are short and wait for a disk or a peer (a commit, a
  /// call): a fifth of window() and five times max_rounds(). The disk and the cores are shared
  /// with this machine's other tenants; the shorter the rounds, the closer in time two variants'
  /// operations are, and the more rounds the median has to discard bursts with.
  [[nodiscard]] std::chrono::milliseconds short_window() const { return window() / 5; }
  [[nodiscard]] int short_rounds() const { return max_rounds() * 5; }
  /// What a row may spend on its rounds once it has the fewest it needs (kMinRounds): rows whose
  /// rounds are long (a catch-up of 1M events, processes that must settle) take fewer of them.
  [[nodiscard]] std::chrono::seconds budget() const {
    return std::chrono::seconds(quick ? 10 : 40);
  }
  [[nodiscard]] bool wants(const std::string& id) const;
};

/// Rounds every row takes whatever its budget: the median and quartiles need a few.
inline constexpr int kMinRounds = 5;

/// Runs of a latency row (L1, L3, L4, F1): it reports latencies, not a ratio, so its runs need
/// not alternate with a baseline's.
inline constexpr int kLatencyRuns = 3;

/// The median and the interquartile range of a figure over rounds.
struct Spread {
  double median = 0;
  double q1 = 0;  // 25th percentile
  double q3 = 0;  // 75th percentile
  [[nodiscard]] double iqr() const { return q3 - q1; }
};

/// Median and quartiles of `values` (linear interpolation between the closest ranks, as R's
/// default and numpy's `percentile`); all zero when empty.
[[nodiscard]] Spread spread(std::vector<double> values);

/// One round of a variant: runs it once and returns its figure (a rate, a latency, a size).
using Measure = std::function<double()>;

/// The machine's CPU time (all cores, from /proc/stat) so far, in clock ticks: what a guest's
/// hypervisor gave to others while this guest wanted to run (steal), and the total.
struct CpuTicks {
  std::uint64_t steal = 0;
  std::uint64_t total = 0;
};
[[nodiscard]] CpuTicks cpu_ticks();
/// The share of the CPU time between `from` and `to` that the hypervisor took (0..1): on a shared
/// virtual machine, what explains a row that moved between two runs.
[[nodiscard]] double steal_share(const CpuTicks& from, const CpuTicks& to);

/// How fast this machine runs a fixed single-thread probe now, in millions of steps per second
/// (a chain of integer mixes and a pointer chase through 256 KiB; about 3 ms). On a shared
/// host it can fall with no steal at all (the guest gets its time but does less in it: a busy
/// sibling thread on the core, a lower clock): compared between two runs, it says whether a row
/// that moved ran on a slower machine.
[[nodiscard]] double cpu_speed();

/// What the machine did while a row ran: the steal share since construction, and the median of
/// the cpu_speed() probes taken with sample(). `compare` samples after each round; a row measured
/// otherwise (L3, L4) samples at its start and its end. Thread-safety: one thread.
class MachineWatch final {
 public:
  void sample() { speeds_.push_back(cpu_speed()); }
  [[nodiscard]] double steal() const { return steal_share(ticks_, cpu_ticks()); }
  [[nodiscard]] double speed() const;

 private:
  CpuTicks ticks_ = cpu_ticks();
  std::vector<double> speeds_;
};

/// What `compare` measured: every variant's figure in every round.
struct Comparison {
  std::vector<std::vector<double>> samples;  // [variant][round]
  double steal = 0;                          // steal_share over the rounds
  double speed = 0;                          // median cpu_speed() taken after each round

  [[nodiscard]] int rounds() const {
    return samples.empty() ? 0 : static_cast<int>(samples[0].size());
  }
  /// The figure of `variant` over the rounds.
  [[nodiscard]] Spread value(std::size_t variant) const;
  /// `variant` / `base`, one ratio per round (the two ran next to each other), over the rounds.
  [[nodiscard]] Spread ratio(std::size_t variant, std::size_t base = 0) const;
};

/// The harness's method: runs `variants` (the first is the baseline) in short alternating rounds,
/// each round every variant once, the order rotating from round to round (raw, reflex; reflex,
/// raw; ...) so that warm-up and drift favour none. Takes `rounds` rounds (0: config.max_rounds()),
/// fewer when they would overrun `budget` (0: config.budget()), never fewer than kMinRounds.
[[nodiscard]] Comparison compare(const Config& config, const std::vector<Measure>& variants,
                                 int rounds = 0,
                                 std::chrono::seconds budget = std::chrono::seconds(0));

/// One line of the report. `raw` and `reflex` are medians over the rounds, `ratio` the median of
/// the per-round ratios reflex/raw (not the ratio of the medians) with its spread.
struct Row {
  std::string id{};
  std::string name{};
  std::string unit{};
  std::optional<double> raw{};
  std::optional<double> reflex{};
  std::optional<Spread> ratio{};
  /// A second baseline, when the row has one: what the physical floor of the work costs (for a
  /// producer, its transaction with a hand-written INSERT of the event row), and reflex against it.
  std::optional<double> floor{};
  std::optional<Spread> of_floor{};
  std::string goal{};
  bool met = false;
  int rounds = 0;
  std::optional<double> steal{};  // the CPU steal share during the rounds (Comparison::steal)
  std::optional<double> speed{};  // cpu_speed() during the rounds (Comparison::speed)
  std::string note{};             // extra figures (p50, per-variant values)
};

/// Median of `values`.
[[nodiscard]] double median(std::vector<double> values);

/// A row from `compare`'s variants `raw` and `reflex`, whose goal is the median ratio
/// reflex/raw >= bound (or <= bound when `at_most`).
[[nodiscard]] Row ratio_row(std::string id, std::string name, std::string unit,
                            const Comparison& measured, double bound, bool at_most = false,
                            std::size_t raw = 0, std::size_t reflex = 1);

/// Adds `measured`'s variant `floor` to `row` as its second baseline (reflex is variant `reflex`).
void add_floor(Row& row, const Comparison& measured, std::size_t floor, std::size_t reflex = 1);

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
