#pragma once
// Progress of a long job (backfill): events done, their rate, the events left to the source's
// head and an ETA; drawn as a bar redrawn in place on a terminal, or written as a line every
// few seconds for job logs. Nothing here knows about CLI11.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

#include "sources.hpp"

namespace reflexctl {

/// A moment of a job, as shown.
struct ProgressSnapshot {
  std::uint64_t done = 0;
  std::chrono::nanoseconds elapsed{};
  /// Events per second over the last few seconds (since the start before that).
  double rate = 0;
  /// Events between the job's cursor and the source's head, when the source tells its head.
  std::optional<std::uint64_t> left{};
  /// left / rate, when both are known.
  std::optional<std::chrono::seconds> eta{};
  std::string cursor{};
};

/// "1200 events done, 850/s, 5800 left to the head, ETA 7s, cursor 1200" (the parts that are
/// known).
[[nodiscard]] std::string progress_line(const ProgressSnapshot& p);
/// "[########------------]  38% 1200/3200 events  850/s  ETA 3s": `width` bar cells; without a
/// head, "1200 events  850/s".
[[nodiscard]] std::string progress_bar(const ProgressSnapshot& p, int width = 24);

struct ProgressOptions {
  /// Draw a bar redrawn in place (stderr is a terminal) instead of writing lines.
  bool terminal = false;
  /// Lines: one every this often while something changes (zero: none). A bar is redrawn every
  /// 250 ms whatever this says.
  std::chrono::milliseconds every{std::chrono::seconds(5)};
  /// The source's head, refreshed at most every 2 s on the reporter's thread (never the job's);
  /// empty when the source cannot tell.
  reflex_tools::HeadFunc head{};
  /// Prefix of the lines: "reflexctl backfill NAME".
  std::string label{};
};

/// Tracks a job's progress and shows it on stderr from a thread of its own, so that neither a
/// slow head query nor the drawing holds the job back.
///
/// Thread-safety: every member may be called from any thread. Lifetime: the destructor stops
/// the drawing (finish() first to clear the bar).
class Progress {
 public:
  explicit Progress(ProgressOptions options);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Where the job starts (its stored cursor).
  void start_at(std::string cursor);
  /// `count` more events done; the job's cursor is now `cursor`.
  void done(std::uint64_t count, std::string cursor);
  /// Events done so far.
  [[nodiscard]] std::uint64_t events() const noexcept { return done_.load(); }
  /// The job's cursor (the last event done, else where it started).
  [[nodiscard]] std::string cursor() const;
  /// Writes `line` (and a newline) on stderr above the bar, which is redrawn under it.
  void print(std::string_view line);
  /// Stops drawing and clears the bar; later print()s go straight to stderr.
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  void draw_loop(std::stop_token stop);
  ProgressSnapshot snapshot(Clock::time_point now);
  void refresh_head(Clock::time_point now);

  ProgressOptions options_;
  const Clock::time_point start_ = Clock::now();
  std::atomic<std::uint64_t> done_{0};
  mutable std::mutex mu_;  // guards what follows and stderr while a bar is drawn
  std::string cursor_;
  std::optional<std::int64_t> head_;
  std::optional<Clock::time_point> head_at_;
  std::deque<std::pair<Clock::time_point, std::uint64_t>> samples_;
  bool drawn_ = false;  // a bar is on the screen
  bool finished_ = false;
  std::jthread drawer_;  // last: it uses everything above
};

}  // namespace reflexctl
