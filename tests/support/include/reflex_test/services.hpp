#pragma once

#include <string>

#include "reflex_test/env.hpp"

namespace reflex_test {

/// Servers of one test's own, run by scripts/services in a state dir of their own, for tests that
/// stop and restart a server under a running client (the shared servers of the test run must not
/// go away). Ports are kept across restarts, so clients can reconnect. The destructor stops every
/// server and deletes the state. Each call waits as long as scripts/services does (a start takes
/// about 1.5 s, a stop 0.2 s) and at most 2 minutes; a failed command fails the test.
class OwnServices {
 public:
  /// Starts `services` ("postgres", "nats", "postgres nats": the names scripts/services takes).
  explicit OwnServices(std::string services);
  ~OwnServices();
  OwnServices(const OwnServices&) = delete;
  OwnServices& operator=(const OwnServices&) = delete;

  void start();
  void stop();
  /// SIGKILLs one node of the JetStream cluster ("n1", "n2", "n3"); start() brings it back.
  void kill_node(const std::string& node);
  /// The value the env file of these servers exports as `name` (e.g. REFLEX_TEST_PG_DSN), or ""
  /// when it exports none.
  [[nodiscard]] std::string env(const std::string& name) const;

 private:
  void command(const std::string& what) const;

  TempDir dir_;
  std::string services_;
};

}  // namespace reflex_test
