// A Python gRPC client (grpcio, protoc-generated messages) reads our stream: the wire format is
// not only understood by our own client.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <reflex/reflex.hpp>
#include <reflex/rgrpc/server.hpp>

namespace {

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) out += buffer.data();
  const int status = pclose(pipe);
  if (status != 0) out += "exit status " + std::to_string(status);
  return out;
}

TEST(Interop, APythonGrpcClientReadsTheStreamAndItsEnd) {
  reflex::MemLog log;
  using std::chrono::system_clock;
  log.append(
      {.id = {},
       .type = 3,
       .foreign_id = "user-1",
       .timestamp = system_clock::time_point(std::chrono::microseconds(1'700'000'000'000'007)),
       .metadata = "\x01\x02",
       .trace = {}});
  log.append({.id = {},
              .type = -1,
              .foreign_id = "user-2",
              .timestamp = system_clock::time_point(std::chrono::seconds(1)),
              .metadata = {},
              .trace = {}});
  log.append(5, "user-3");
  reflex::rgrpc::Server server(log.stream_func(), {.token = "py"});
  const std::string base = std::string("/usr/bin/python3 ") + RGRPC_INTEROP_CLIENT + " " +
                           RGRPC_PYTHON_GEN_DIR + " " + server.address() + " ";
  const std::string out = run(base + "1 py 2>&1");
  EXPECT_EQ(out,
            "event 2 -1 user-2 1 0 -\n"
            "event 3 5 user-3 " +
                std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                   log.events(3)[0].timestamp.time_since_epoch())
                                   .count()) +
                " " +
                std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   log.events(3)[0].timestamp.time_since_epoch())
                                   .count() %
                               1'000'000'000) +
                " -\n"
                "status OUT_OF_RANGE the event stream has reached the current head\n");
  EXPECT_EQ(run(base + "0 py 2>&1").substr(0, 40), "event 1 3 user-1 1700000000 7000 0102\nev");
  EXPECT_EQ(run(base + "0 wrong 2>&1").substr(0, 29), "status UNAUTHENTICATED missin");
}

}  // namespace
