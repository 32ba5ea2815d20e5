#pragma once
// A gRPC service of reflex's (anything with service() and shutdown(), as rstategate's and
// rwindshift's services are) in a grpc::Server of its own on a free loopback port: what the rows
// that measure a service through gRPC (E2, W1, W2) call.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace bench {

/// Thread-safety: channel() from any thread. Lifetime: the destructor ends the service's open
/// calls, then shuts the server down (at most 2 s).
template <class Service>
class HostedService final {
 public:
  template <class... Args>
  explicit HostedService(Args&&... args) : service_(std::forward<Args>(args)...) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service_.service());
    server_ = builder.BuildAndStart();
    if (!server_) throw std::runtime_error("cannot start the gRPC server");
  }
  ~HostedService() {
    service_.shutdown();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  HostedService(const HostedService&) = delete;
  HostedService& operator=(const HostedService&) = delete;

  /// Client `n`'s channel: a connection of its own, as separate programs have.
  [[nodiscard]] std::shared_ptr<grpc::Channel> channel(int n) const {
    grpc::ChannelArguments args;
    args.SetInt("bench-client", n);
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port_),
                                     grpc::InsecureChannelCredentials(), args);
  }

 private:
  Service service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace bench
