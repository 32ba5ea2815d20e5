#pragma once
// Text in lines: what a program printed, what a component logged.

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace reflex_test {

/// The lines of `text` without their '\n' (a last line without one counts too; "" has none).
inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    out.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

/// Collects the lines a component logs, from any thread: pass `func()` as its log function
/// (rpatterns' LogFunc is this signature). Never waits.
class LogLines {
 public:
  /// A log function appending to this collector; it must not outlive it.
  std::function<void(std::string_view)> func() {
    return [this](std::string_view line) {
      std::lock_guard lock(mu_);
      lines_.emplace_back(line);
    };
  }
  std::size_t size() {
    std::lock_guard lock(mu_);
    return lines_.size();
  }
  /// A copy of the lines logged so far, in order.
  std::vector<std::string> all() {
    std::lock_guard lock(mu_);
    return lines_;
  }
  /// A copy of line `i` (0-based); throws std::out_of_range past the last.
  std::string at(std::size_t i) {
    std::lock_guard lock(mu_);
    return lines_.at(i);
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace reflex_test
