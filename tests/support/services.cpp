#include "reflex_test/services.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "reflex_test/process.hpp"

namespace reflex_test {

OwnServices::OwnServices(std::string services) : services_(std::move(services)) {
  start();
}

OwnServices::~OwnServices() {
  command("clean");
}

void OwnServices::start() {
  command("start " + services_);
}

void OwnServices::kill_node(const std::string& node) {
  command("kill nats-cluster/" + node);
}

void OwnServices::stop() {
  command("stop " + services_);
}

std::string OwnServices::env(const std::string& name) const {
  std::ifstream file(dir_.path() / "env");
  const std::string key = "export " + name + "=";
  std::string value;
  for (std::string line; std::getline(file, line);) {
    if (line.starts_with(key)) value = line.substr(key.size());
  }
  if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') &&
      value.back() == value.front()) {
    value = value.substr(1, value.size() - 2);
  }
  return value;
}

void OwnServices::command(const std::string& what) const {
  std::vector<std::string> args = {std::string(REFLEX_SOURCE_DIR) + "/scripts/services"};
  std::istringstream words(what);
  for (std::string word; words >> word;) args.push_back(word);
  // Not captured: the servers it starts are daemons of their own, and no pipe of ours may
  // outlive the command in them.
  const auto result =
      run_process(args, {.env = {"REFLEX_SERVICES_DIR=" + dir_.path().string()}, .capture = false},
                  std::chrono::minutes(2));
  EXPECT_EQ(result.status, 0) << "scripts/services " << what << " in " << dir_.path().string();
}

}  // namespace reflex_test
