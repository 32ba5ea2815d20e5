// A client in a separate process, for tests that need a peer to vanish (SIGKILL: the kernel closes
// its socket without any gRPC goodbye).
//
//   rgrpc_test_peer TARGET    opens a stream, reads one event, prints "ready", then blocks.
#include <iostream>
#include <reflex/rgrpc/client.hpp>
#include <thread>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: rgrpc_test_peer TARGET\n";
    return 2;
  }
  auto stream = reflex::rgrpc::stream_func({.target = argv[1]});
  auto client = stream({}, "", {});
  const auto event = client->recv();
  std::cout << "ready " << event.id << std::endl;
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}
