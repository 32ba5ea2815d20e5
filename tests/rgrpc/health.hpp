#pragma once
// The gRPC health service and server reflection seen as a client sees them, without their
// generated code.

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/support/sync_stream.h>

#include <memory>
#include <string>
#include <vector>

namespace rgrpc_test {

// grpc.health.v1.Health/Check with a hand-encoded HealthCheckRequest{service}; returns the
// HealthCheckResponse status (1 SERVING, 2 NOT_SERVING) or -code on error.
inline int health_check(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  std::string request;
  if (!service.empty()) {
    request.push_back(0x0a);
    request.push_back(static_cast<char>(service.size()));
    request += service;
  }
  grpc::Slice slice(request);
  grpc::ByteBuffer in(&slice, 1);
  grpc::ByteBuffer out;
  grpc::ClientContext context;
  const grpc::internal::RpcMethod method("/grpc.health.v1.Health/Check",
                                         grpc::internal::RpcMethod::NORMAL_RPC);
  const auto status = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      channel.get(), method, &context, in, &out);
  if (!status.ok()) return -static_cast<int>(status.error_code());
  std::vector<grpc::Slice> slices;
  (void)out.Dump(&slices);
  std::string response;
  for (const auto& s : slices) response.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return response.size() == 2 && response[0] == 0x08 ? response[1] : 0;
}

// Every service that server reflection lists on `channel` (ServerReflectionInfo with a
// hand-encoded list_services request), as the raw response bytes; "" on error.
inline std::string reflection_list(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext context;
  const grpc::internal::RpcMethod method(
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      grpc::internal::RpcMethod::BIDI_STREAMING);
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> call(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          channel.get(), method, &context));
  const std::string request = "\x3a\x01*";  // ServerReflectionRequest{list_services: "*"}
  grpc::Slice slice(request);
  grpc::ByteBuffer in(&slice, 1);
  grpc::ByteBuffer out;
  std::string response;
  if (call->Write(in) && call->WritesDone() && call->Read(&out)) {
    std::vector<grpc::Slice> slices;
    (void)out.Dump(&slices);
    for (const auto& s : slices) {
      response.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  (void)call->Finish();
  return response;
}

}  // namespace rgrpc_test
