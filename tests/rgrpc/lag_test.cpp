// A lag out of range is refused on both ends of a reflexpb stream: by our client before it
// sends it, and by our server (INVALID_ARGUMENT) when another client does.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>

#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"
#include "reflex/proto/reflex.grpc.pb.h"
#include "reflex/rgrpc/client.hpp"
#include "reflex/rgrpc/server.hpp"

namespace {

TEST(GrpcLag, OurClientRefusesALagOutOfRangeBeforeSendingIt) {
  reflex::MemLog log;
  reflex::rgrpc::Server server(log.stream_func());
  const auto stream =
      reflex::rgrpc::stream_func(reflex::rgrpc::ClientOptions{.target = server.address()});
  EXPECT_THROW((void)stream({}, "", {.lag = std::chrono::milliseconds::max()}),
               reflex::ConfigError);
}

TEST(GrpcLag, OurServerAnswersALagOfTenThousandYearsWithInvalidArgument) {
  reflex::MemLog log;
  log.append(1, "a");
  reflex::rgrpc::Server server(log.stream_func());
  auto stub = reflexpb::Reflex::NewStub(
      grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  reflexpb::StreamRequest request;
  request.mutable_options()->mutable_lag()->set_seconds(315'576'000'000);  // 10,000 years
  auto reader = stub->Stream(&context, request);
  reflexpb::Event event;
  EXPECT_FALSE(reader->Read(&event)) << "the event was sent despite the lag";
  const auto status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("out of range"), std::string::npos)
      << status.error_message();
}

}  // namespace
