#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <stdexcept>

#include "reflex_test/env.hpp"

namespace reflex_test {

std::string required_env(const char* name) {
  if (const char* value = std::getenv(name); value != nullptr && *value != '\0') return value;
  throw std::runtime_error(
      std::string(name) +
      " is not set: this test needs a server. Run the tests with scripts/test, "
      "or start servers with `scripts/services start` and "
      "`source \"$(scripts/services env-file)\"` first.");
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  // Process ids come round again (pid_max is 32768 here) while a server's tables stay: a random
  // part per process keeps a later test from meeting an earlier one's table.
  static const std::string process = [] {
    std::random_device random;
    return std::to_string(::getpid()) + "_" + std::to_string(random() % 100000);
  }();
  return prefix + "_" + process + "_" + std::to_string(++counter);
}

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = std::filesystem::temp_directory_path() /
                     ("reflex-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    if (std::filesystem::create_directory(candidate)) {
      path_ = std::move(candidate);
      return;
    }
  }
  throw std::runtime_error("could not create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace reflex_test
