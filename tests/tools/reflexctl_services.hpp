#pragma once
// Servers of a test's own, for the tests that stop and restart them under a running reflexctl:
// scripts/services in a REFLEX_SERVICES_DIR of the test's own (ports are kept across restarts,
// so a client can reconnect to the restarted server).

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "reflex_test/env.hpp"

namespace reflexctl_test {

class OwnServices {
 public:
  /// Starts `services` ("postgres", "nats", "postgres nats", …).
  explicit OwnServices(const std::string& services) { command("start " + services); }
  ~OwnServices() { command("clean"); }
  OwnServices(const OwnServices&) = delete;
  OwnServices& operator=(const OwnServices&) = delete;

  /// Runs `scripts/services WHAT` on this test's servers, e.g. "stop postgres".
  void command(const std::string& what) {
    const std::string cmd = "REFLEX_SERVICES_DIR='" + dir_.path().string() + "' '" +
                            REFLEX_SOURCE_DIR + "/scripts/services' " + what + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  /// A value of the env file the start wrote, e.g. "REFLEX_TEST_PG_DSN" ("" when absent).
  [[nodiscard]] std::string env(const std::string& name) const {
    std::ifstream file(dir_.path() / "env");
    const std::string key = "export " + name + "=";
    std::string value;
    for (std::string line; std::getline(file, line);) {
      if (line.starts_with(key)) value = line.substr(key.size());
    }
    if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"')) {
      value = value.substr(1, value.size() - 2);
    }
    return value;
  }

 private:
  reflex_test::TempDir dir_;
};

}  // namespace reflexctl_test
