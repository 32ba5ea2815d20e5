// Outages: retry rule, backoff, the outage log and the source probe (see outages.hpp).

#include "outages.hpp"

#include <algorithm>
#include <thread>

#include "durations.hpp"
#include "errors.hpp"
#include "reflex/errors.hpp"
#include "reflex/wait.hpp"

namespace reflex_tools {

bool is_transient(const std::exception_ptr& error) noexcept {
  return reflex::is_retryable(error) || reflex::is_expected(error);
}

std::string describe(const std::exception_ptr& error) {
  if (const auto* store = reflex::find_error<CursorStoreFailure>(error)) {
    return one_line(store->what());
  }
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return one_line(e.what());
  } catch (...) {
    return "unknown failure";
  }
}

std::chrono::milliseconds Backoff::next() {
  const auto wait = next_;
  next_ = std::min(next_ * 2, max_);
  return wait;
}

void OutageLog::down(const std::string& what, const std::string& why) {
  std::lock_guard lock(mu_);
  if (!what_.empty()) return;
  what_ = what.empty() ? "it" : what;
  since_ = Clock::now();
  log(what_ + " is down (" + why + "); retrying until it is back");
}

void OutageLog::back() {
  std::lock_guard lock(mu_);
  if (what_.empty()) return;
  log(what_ + " is back after " + format_duration(Clock::now() - since_));
  what_.clear();
}

void OutageLog::log(const std::string& message) const {
  if (!sink_) {
    print_error(command_, message);
    return;
  }
  sink_(program_name() + " " + command_ + ": " + one_line(message));
}

bool OutageLog::is_down() const {
  std::lock_guard lock(mu_);
  return !what_.empty();
}

std::string OutageLog::what() const {
  std::lock_guard lock(mu_);
  return what_;
}

std::exception_ptr probe(std::stop_token outer, const reflex::StreamFunc& stream,
                         std::chrono::milliseconds timeout) {
  std::stop_source stop;
  std::stop_callback forward(outer, [&] { stop.request_stop(); });
  std::jthread timer([&](std::stop_token own) {
    if (reflex::sleep_for(own, timeout)) stop.request_stop();
  });
  try {
    auto client = stream(stop.get_token(), "", {.from_head = true, .to_head = true});
    (void)client->recv();
    return nullptr;
  } catch (const reflex::HeadReached&) {
    return nullptr;
  } catch (const reflex::Canceled&) {
    if (outer.stop_requested()) return std::current_exception();
    return std::make_exception_ptr(
        reflex::Unavailable("no answer within " + std::to_string(timeout.count()) + " ms"));
  } catch (...) {
    // Any failure ends the probe, also one the timer's stop turned into another error.
    if (stop.stop_requested() && !outer.stop_requested()) {
      return std::make_exception_ptr(
          reflex::Unavailable("no answer within " + std::to_string(timeout.count()) + " ms"));
    }
    return std::current_exception();
  }
}

}  // namespace reflex_tools
