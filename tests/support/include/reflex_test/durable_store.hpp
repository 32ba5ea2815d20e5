#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "reflex/cursor_store.hpp"

namespace reflex_test {

/// A cursor store whose sets become durable only on flush, so tests see what a flush wrote (and
/// what a crash before it would lose). Counts sets and flushes. Thread-safe; never waits.
class DurableStore final : public reflex::CursorStore {
 public:
  /// The durable cursor (what a restarted runner reads), "" when none was flushed.
  std::string get(std::string_view name) override {
    std::lock_guard lock(mu_);
    auto it = durable_.find(std::string(name));
    return it == durable_.end() ? "" : it->second;
  }
  void set(std::string_view name, std::string_view cursor) override {
    std::lock_guard lock(mu_);
    pending_[std::string(name)] = cursor;
    ++sets_;
  }
  void flush() override {
    std::lock_guard lock(mu_);
    ++flushes_;
    for (auto& [k, v] : pending_) durable_[k] = v;
    pending_.clear();
  }
  std::string durable(const std::string& name) {
    std::lock_guard lock(mu_);
    return durable_.count(name) ? durable_[name] : "";
  }
  int flushes() {
    std::lock_guard lock(mu_);
    return flushes_;
  }
  int sets() {
    std::lock_guard lock(mu_);
    return sets_;
  }
  /// Makes `cursor` durable at once, as a runner before this one would have left it.
  void seed(const std::string& name, const std::string& cursor) {
    std::lock_guard lock(mu_);
    durable_[name] = cursor;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> pending_, durable_;
  int flushes_ = 0;
  int sets_ = 0;
};

}  // namespace reflex_test
