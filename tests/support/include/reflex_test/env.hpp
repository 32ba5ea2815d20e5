#pragma once

#include <filesystem>
#include <string>

namespace reflex_test {

/// The value of environment variable `name`. Throws (failing the test, never skipping it) with a
/// message telling how to start the servers when it is unset: a test that needs a server fails
/// when it cannot reach one.
std::string required_env(const char* name);

/// A name unique to this process and call, safe as an SQL identifier: `<prefix>_<pid>_<n>`.
std::string unique_name(const std::string& prefix);

/// A fresh empty directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace reflex_test
