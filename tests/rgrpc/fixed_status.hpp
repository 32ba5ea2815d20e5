#pragma once

// A gRPC server that ends every stream with one status, as a Go (luno/reflex) server would, and
// the statuses such servers send.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "reflex/proto/reflex.grpc.pb.h"
#include "reflex/rgrpc/client.hpp"

namespace rgrpc_test {

using namespace std::chrono_literals;

/// A Reflex service that ends every stream with one status, as a Go server would.
class FixedStatus final : public reflexpb::Reflex::CallbackService {
 public:
  explicit FixedStatus(grpc::Status status) : status_(std::move(status)) {}
  grpc::ServerWriteReactor<reflexpb::Event>* Stream(grpc::CallbackServerContext*,
                                                    const reflexpb::StreamRequest*) override {
    class Reactor final : public grpc::ServerWriteReactor<reflexpb::Event> {
     public:
      explicit Reactor(grpc::Status status) { Finish(std::move(status)); }
      void OnDone() override { delete this; }
    };
    ++calls_;
    return new Reactor(status_);
  }
  /// Streams opened so far.
  [[nodiscard]] int calls() const { return calls_; }

 private:
  grpc::Status status_;
  std::atomic<int> calls_{0};
};

/// A FixedStatus service on a loopback port.
struct FixedStatusServer {
  explicit FixedStatusServer(grpc::Status status) : service(std::move(status)) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
  }
  ~FixedStatusServer() { server->Shutdown(std::chrono::system_clock::now() + 1s); }
  [[nodiscard]] reflex::StreamFunc stream() const {
    return reflex::rgrpc::stream_func({.target = "127.0.0.1:" + std::to_string(port)});
  }

  FixedStatus service;
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

inline std::exception_ptr client_error_for(grpc::Status status) {
  FixedStatusServer server(std::move(status));
  try {
    auto client = server.stream()({}, "", {});
    (void)client->recv();
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

// Protobuf written by hand (length-delimited fields), for statuses as Go servers send them.
inline std::string varint(std::uint64_t value) {
  std::string out;
  for (; value >= 0x80; value >>= 7) out += static_cast<char>((value & 0x7f) | 0x80);
  return out + static_cast<char>(value);
}
inline std::string field(int number, std::string_view bytes) {
  return varint(static_cast<std::uint64_t>(number) << 3 | 2) + varint(bytes.size()) +
         std::string(bytes);
}

/// What luno/reflex's server sends when its rsql events table is asked to stream after a cursor
/// that is not an integer: streamClient.Recv returns rsql.ErrInvalidIntID (jettison code
/// ERR_82d0368b5478d378), serveStream wraps it as "recv error 2", and gRPC ends the call with
/// UNKNOWN and the error's text. With jettison's interceptor the details carry the wrapped errors
/// (jettisonpb.WrappedError{message = 1, wrapped_error = 4, binary = 5, stack_trace = 6, code = 7,
/// source = 9} in a google.rpc.Status{code = 1, message = 2, details = 3}).
inline grpc::Status luno_invalid_cursor(bool with_details) {
  const std::string message = "recv error 2: invalid id, only int supported";
  if (!with_details) return {grpc::StatusCode::UNKNOWN, message};
  const std::string inner =
      field(1, "invalid id, only int supported") + field(7, "ERR_82d0368b5478d378");
  const std::string outer = field(1, "recv error 2") + field(4, inner) + field(5, "exserver") +
                            field(6, "github.com/luno/reflex/server.go:98 serveStream") +
                            field(9, "github.com/luno/reflex/server.go:98");
  const std::string any = field(1, "type.googleapis.com/jettisonpb.WrappedError") + field(2, outer);
  const std::string status = "\x08\x02" + field(2, message) + field(3, any);
  return {grpc::StatusCode::UNKNOWN, message, status};
}

}  // namespace rgrpc_test
