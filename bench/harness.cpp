#include "harness.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace bench {

bool Config::wants(const std::string& id) const {
  return only.empty() || std::find(only.begin(), only.end(), id) != only.end();
}

double median(std::vector<double> values) {
  return spread(std::move(values)).median;
}

Spread spread(std::vector<double> values) {
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  const auto at = [&](double p) {
    const double rank = p * static_cast<double>(values.size() - 1);
    const auto low = static_cast<std::size_t>(rank);
    const auto high = std::min(low + 1, values.size() - 1);
    return values[low] + (rank - static_cast<double>(low)) * (values[high] - values[low]);
  };
  return {.median = at(0.5), .q1 = at(0.25), .q3 = at(0.75)};
}

Spread Comparison::value(std::size_t variant) const {
  return spread(samples.at(variant));
}

Spread Comparison::ratio(std::size_t variant, std::size_t base) const {
  std::vector<double> ratios;
  const auto& a = samples.at(variant);
  const auto& b = samples.at(base);
  for (std::size_t i = 0; i < a.size(); ++i) ratios.push_back(b[i] > 0 ? a[i] / b[i] : 0);
  return spread(std::move(ratios));
}

Comparison compare(const Config& config, const std::vector<Measure>& variants, int rounds,
                   std::chrono::seconds budget) {
  Comparison c{.samples = std::vector<std::vector<double>>(variants.size())};
  const auto start = Clock::now();
  MachineWatch machine;
  const auto n = variants.size();
  if (rounds <= 0) rounds = config.max_rounds();
  if (budget <= std::chrono::seconds(0)) budget = config.budget();
  for (int round = 0; round < rounds; ++round) {
    if (round >= kMinRounds) {
      // Stop when one more round (as long as the average so far) would overrun the budget.
      const auto spent = Clock::now() - start;
      if (spent + spent / round > budget) break;
    }
    for (std::size_t k = 0; k < n; ++k) {
      const auto v = (k + static_cast<std::size_t>(round)) % n;
      c.samples[v].push_back(variants[v]());
    }
    machine.sample();
  }
  c.steal = machine.steal();
  c.speed = machine.speed();
  return c;
}

Row ratio_row(std::string id, std::string name, std::string unit, const Comparison& measured,
              double bound, bool at_most, std::size_t raw, std::size_t reflex) {
  Row row{.id = std::move(id), .name = std::move(name), .unit = std::move(unit)};
  row.raw = measured.value(raw).median;
  row.reflex = measured.value(reflex).median;
  row.ratio = measured.ratio(reflex, raw);
  row.rounds = measured.rounds();
  row.steal = measured.steal;
  row.speed = measured.speed;
  char goal[32];
  std::snprintf(goal, sizeof goal, "%s%.2f", at_most ? "≤" : "≥", bound);
  row.goal = goal;
  row.met = at_most ? row.ratio->median <= bound : row.ratio->median >= bound;
  return row;
}

void add_floor(Row& row, const Comparison& measured, std::size_t floor, std::size_t reflex) {
  row.floor = measured.value(floor).median;
  row.of_floor = measured.ratio(reflex, floor);
}

double throughput(int threads, std::chrono::milliseconds window,
                  const std::function<std::uint64_t(int)>& op) {
  std::atomic<bool> go{false}, done{false};
  std::vector<std::uint64_t> counts(static_cast<std::size_t>(threads));
  std::vector<std::jthread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      std::uint64_t n = 0;
      while (!done.load(std::memory_order_relaxed)) n += op(t);
      counts[static_cast<std::size_t>(t)] = n;
    });
  }
  const auto start = Clock::now();
  go = true;
  std::this_thread::sleep_for(window);
  done = true;
  workers.clear();  // joins
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::uint64_t total = 0;
  for (auto c : counts) total += c;
  return static_cast<double>(total) / seconds;
}

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank =
      static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

CpuTicks cpu_ticks() {
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice"; guest time is counted
  // in user already.
  std::ifstream stat("/proc/stat");
  std::string cpu;
  std::uint64_t fields[8] = {};
  stat >> cpu;
  for (auto& f : fields) stat >> f;
  if (!stat || cpu != "cpu") return {};
  CpuTicks t{.steal = fields[7]};
  for (const auto f : fields) t.total += f;
  return t;
}

double cpu_speed() {
  // A random cycle through 256 KiB of indices, built once: within a core's L2, so that what the
  // probe sees is the core's speed, not where the allocator's pages fell (a 4 MiB table moved
  // by a third between processes, with its page walks). Each step mixes a register and follows
  // the cycle once.
  constexpr std::uint32_t kSlots = 1u << 16;
  constexpr int kSteps = 100000;
  static const std::vector<std::uint32_t> next = [] {
    std::vector<std::uint32_t> order(kSlots);
    for (std::uint32_t i = 0; i < kSlots; ++i) order[i] = i;
    std::uint64_t x = 0x9e3779b97f4a7c15u;
    for (std::uint32_t i = kSlots - 1; i > 0; --i) {  // Fisher-Yates, xorshift64
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      std::swap(order[i], order[x % (i + 1)]);
    }
    std::vector<std::uint32_t> cycle(kSlots);
    for (std::uint32_t i = 0; i < kSlots; ++i) cycle[order[i]] = order[(i + 1) % kSlots];
    return cycle;
  }();
  std::uint64_t x = 88172645463325252u;
  std::uint32_t at = 0;
  const auto start = Clock::now();
  for (int i = 0; i < kSteps; ++i) {
    for (int k = 0; k < 8; ++k) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      x *= 0x2545f4914f6cdd1du;
    }
    at = next[at ^ static_cast<std::uint32_t>(x & 1)];
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  static std::atomic<std::uint64_t> sink{0};
  sink.fetch_add(x + at, std::memory_order_relaxed);  // keeps the loop
  return seconds > 0 ? kSteps / seconds / 1e6 : 0;
}

double MachineWatch::speed() const {
  return median(speeds_);
}

double steal_share(const CpuTicks& from, const CpuTicks& to) {
  if (to.total <= from.total) return 0;
  return static_cast<double>(to.steal - from.steal) / static_cast<double>(to.total - from.total);
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(usage.ru_utime) + s(usage.ru_stime);
}

namespace {

std::string number(const std::optional<double>& v) {
  if (!v) return "—";
  char buf[32];
  const double a = std::fabs(*v);
  std::snprintf(buf, sizeof buf, a >= 1000 ? "%.0f" : a >= 10 ? "%.1f" : "%.3g", *v);
  return buf;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string json_number(const std::optional<double>& v) {
  if (!v || !std::isfinite(*v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", *v);
  return buf;
}

}  // namespace

void print_table(const std::vector<Row>& rows) {
  // The spread of a ratio is its interquartile range over the rounds, beside its median.
  const auto median_of = [](const std::optional<Spread>& s) {
    return s ? number(s->median) : std::string("—");
  };
  const auto iqr_of = [](const std::optional<Spread>& s) {
    if (!s) return std::string("");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", s->iqr());
    return std::string(buf);
  };
  const auto steal_of = [](const std::optional<double>& s) {
    if (!s) return std::string("—");
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.1f", *s * 100);
    return std::string(buf);
  };
  const auto speed_of = [](const std::optional<double>& s) {
    if (!s) return std::string("—");
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.2f", *s);
    return std::string(buf);
  };
  std::printf("\n%-5s %-62s %-7s %10s %10s %10s %6s %6s %6s %6s %3s %6s %5s %-22s %s\n", "id",
              "scenario", "unit", "raw", "floor", "reflex", "ratio", "IQR", "/floor", "IQR", "n",
              "steal%", "cpu", "goal", "met");
  for (const auto& r : rows) {
    std::printf("%-5s %-62s %-7s %10s %10s %10s %6s %6s %6s %6s %3d %6s %5s %-22s %s%s%s\n",
                r.id.c_str(), r.name.c_str(), r.unit.c_str(), number(r.raw).c_str(),
                number(r.floor).c_str(), number(r.reflex).c_str(), median_of(r.ratio).c_str(),
                iqr_of(r.ratio).c_str(), median_of(r.of_floor).c_str(), iqr_of(r.of_floor).c_str(),
                r.rounds, steal_of(r.steal).c_str(), speed_of(r.speed).c_str(), r.goal.c_str(),
                r.met ? "yes" : "NO", r.note.empty() ? "" : "  ", r.note.c_str());
  }
  std::fflush(stdout);
}

void write_json(const std::string& path, const std::vector<Row>& rows,
                const std::vector<std::pair<std::string, std::string>>& machine) {
  const auto spread_json = [](const std::optional<Spread>& s) {
    if (!s) return std::string("null");
    return "{\"median\":" + json_number(s->median) + ",\"q1\":" + json_number(s->q1) +
           ",\"q3\":" + json_number(s->q3) + "}";
  };
  std::ofstream out(path);
  out << "{\"machine\":{";
  for (std::size_t i = 0; i < machine.size(); ++i) {
    out << (i ? "," : "") << json_string(machine[i].first) << ":" << json_string(machine[i].second);
  }
  out << "},\"scenarios\":[";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    out << (i ? ",\n" : "\n") << "{\"id\":" << json_string(r.id)
        << ",\"name\":" << json_string(r.name) << ",\"unit\":" << json_string(r.unit)
        << ",\"raw\":" << json_number(r.raw) << ",\"reflex\":" << json_number(r.reflex)
        << ",\"ratio\":" << json_number(r.ratio ? std::optional(r.ratio->median) : std::nullopt)
        << ",\"ratio_spread\":" << spread_json(r.ratio) << ",\"floor\":" << json_number(r.floor)
        << ",\"of_floor\":" << spread_json(r.of_floor) << ",\"rounds\":" << r.rounds
        << ",\"steal\":" << json_number(r.steal) << ",\"cpu_speed\":" << json_number(r.speed)
        << ",\"goal\":" << json_string(r.goal) << ",\"met\":" << (r.met ? "true" : "false");
    if (!r.note.empty()) out << ",\"note\":" << json_string(r.note);
    out << "}";
  }
  out << "\n]}\n";
}

void log(const std::string& text) {
  std::fprintf(stderr, "[bench] %s\n", text.c_str());
}

ChildProcess::ChildProcess(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    throw std::runtime_error("cannot run " + args[0]);
  }
  pid_ = pid;
  out_ = out[0];
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_ >= 0) close(out_);
}

void ChildProcess::signal(int sig) const {
  kill(pid_, sig);
}

std::string ChildProcess::ask(int sig) const {
  kill(pid_, sig);
  std::string line;
  char c = 0;
  while (read(out_, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

std::string ChildProcess::finish() {
  std::string text;
  char buf[256];
  ssize_t n;
  while ((n = read(out_, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  int status = 0;
  waitpid(std::exchange(pid_, -1), &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("child " + std::to_string(status) + " failed: " + text);
  }
  return text;
}

}  // namespace bench
