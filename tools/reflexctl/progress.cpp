// A job's progress on stderr (see progress.hpp).

#include "progress.hpp"

#include <algorithm>
#include <cmath>

#include "commands/commands.hpp"
#include "reflex/event.hpp"
#include "reflex/wait.hpp"

namespace reflexctl {
namespace {

std::string rate_text(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, rate < 10 ? "%.1f/s" : "%.0f/s", rate);
  return buf;
}

std::string eta_text(std::chrono::seconds eta) {
  if (eta < std::chrono::minutes(1)) return "ETA " + std::to_string(eta.count()) + "s";
  return "ETA " + format_duration(eta);
}

/// How often a bar is redrawn: a few times a second, no more.
constexpr std::chrono::milliseconds kRedraw{250};
/// How often the head is asked for, at most.
constexpr std::chrono::seconds kHeadRefresh{2};
/// The rate is measured over this much of the recent past.
constexpr std::chrono::seconds kRateWindow{10};

}  // namespace

std::string progress_line(const ProgressSnapshot& p) {
  std::string out = std::to_string(p.done) + " events done, " + rate_text(p.rate);
  if (p.left) out += ", " + std::to_string(*p.left) + " left to the head";
  if (p.eta) out += ", " + eta_text(*p.eta);
  out += ", cursor " + (p.cursor.empty() ? std::string("(none)") : p.cursor);
  return out;
}

std::string progress_bar(const ProgressSnapshot& p, int width) {
  if (!p.left) return std::to_string(p.done) + " events  " + rate_text(p.rate);
  const std::uint64_t total = p.done + *p.left;
  const double fraction =
      total == 0 ? 1.0 : static_cast<double>(p.done) / static_cast<double>(total);
  const int filled = std::clamp(static_cast<int>(fraction * width), 0, width);
  char percent[16];
  std::snprintf(percent, sizeof percent, "%3d%%", static_cast<int>(std::floor(fraction * 100)));
  std::string out = "[" + std::string(static_cast<std::size_t>(filled), '#') +
                    std::string(static_cast<std::size_t>(width - filled), '-') + "] " + percent +
                    " " + std::to_string(p.done) + "/" + std::to_string(total) + " events  " +
                    rate_text(p.rate);
  if (p.eta) out += "  " + eta_text(*p.eta);
  return out;
}

Progress::Progress(ProgressOptions options) : options_(std::move(options)) {
  if (!options_.terminal && options_.every <= std::chrono::milliseconds::zero()) return;
  drawer_ = std::jthread([this](std::stop_token stop) { draw_loop(stop); });
}

Progress::~Progress() {
  drawer_.request_stop();
  if (drawer_.joinable()) drawer_.join();
}

void Progress::start_at(std::string cursor) {
  std::lock_guard lock(mu_);
  cursor_ = std::move(cursor);
}

void Progress::done(std::uint64_t count, std::string cursor) {
  {
    std::lock_guard lock(mu_);
    cursor_ = std::move(cursor);
  }
  done_.fetch_add(count);
}

std::string Progress::cursor() const {
  std::lock_guard lock(mu_);
  return cursor_;
}

void Progress::print(std::string_view line) {
  std::lock_guard lock(mu_);
  std::string out;
  if (drawn_) out += "\r\x1b[K";  // the bar goes; draw_loop puts it back
  out.append(line);
  out += '\n';
  drawn_ = false;
  std::fputs(out.c_str(), stderr);
  std::fflush(stderr);
}

void Progress::finish() {
  drawer_.request_stop();
  if (drawer_.joinable()) drawer_.join();
  std::lock_guard lock(mu_);
  if (drawn_) {
    std::fputs("\r\x1b[K", stderr);
    std::fflush(stderr);
  }
  drawn_ = false;
  finished_ = true;
}

void Progress::refresh_head(Clock::time_point now) {
  if (!options_.head) return;
  {
    std::lock_guard lock(mu_);
    if (head_at_ && now - *head_at_ < kHeadRefresh) return;
    head_at_ = now;
  }
  std::optional<std::int64_t> head;
  try {
    head = options_.head();  // a query: without the lock, so print() never waits for it
  } catch (const std::exception&) {
    return;  // the source is away: keep the head known last (the job says so itself)
  }
  std::lock_guard lock(mu_);
  head_ = head.value_or(0);
}

ProgressSnapshot Progress::snapshot(Clock::time_point now) {
  // Called with mu_ held.
  ProgressSnapshot p;
  p.done = done_.load();
  p.elapsed = now - start_;
  p.cursor = cursor_;
  samples_.emplace_back(now, p.done);
  while (samples_.size() > 1 && now - samples_.front().first > kRateWindow) samples_.pop_front();
  const auto& [then, done_then] = samples_.front();
  const double window = std::chrono::duration<double>(now - then).count();
  const double since_start = std::chrono::duration<double>(p.elapsed).count();
  if (window >= 1.0) {
    p.rate = static_cast<double>(p.done - done_then) / window;
  } else if (since_start > 0) {
    p.rate = static_cast<double>(p.done) / since_start;
  }
  if (head_) {
    const auto at = cursor_.empty() ? std::optional<std::int64_t>(0) : reflex::parse_int64(cursor_);
    if (at) p.left = static_cast<std::uint64_t>(std::max<std::int64_t>(0, *head_ - *at));
  }
  if (p.left && *p.left == 0) {
    p.eta = std::chrono::seconds(0);
  } else if (p.left && p.rate > 0) {
    p.eta = std::chrono::seconds(
        static_cast<std::int64_t>(std::ceil(static_cast<double>(*p.left) / p.rate)));
  }
  return p;
}

void Progress::draw_loop(std::stop_token stop) {
  const auto tick = options_.terminal ? kRedraw : options_.every;
  std::string last_shown;
  int quiet = 0;  // intervals without a change
  while (reflex::sleep_for(stop, tick)) {
    const auto now = Clock::now();
    refresh_head(now);
    std::lock_guard lock(mu_);
    if (finished_) return;
    const auto p = snapshot(now);
    if (options_.terminal) {
      const std::string bar = "\r" + options_.label + ": " + progress_bar(p) + "\x1b[K";
      std::fputs(bar.c_str(), stderr);
      std::fflush(stderr);
      drawn_ = true;
      continue;
    }
    // Lines: when something moved, and now and then while nothing does (the job still lives).
    std::string line = progress_line(p);
    const std::string key = std::to_string(p.done) + "/" + (p.left ? std::to_string(*p.left) : "");
    if (key == last_shown && ++quiet < 12) continue;
    quiet = 0;
    last_shown = key;
    line = options_.label + ": " + line + "\n";
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
  }
}

}  // namespace reflexctl
