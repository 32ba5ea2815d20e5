// reflexpb messages in a user's own service definition: served by StreamServer from a generated
// callback service, or by Server from method names alone; read through generated stubs.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <reflex/reflex.hpp>
#include <reflex/rgrpc/generic.hpp>

#include "support.hpp"
#include "users.grpc.pb.h"

namespace {

using namespace std::chrono_literals;
using rgrpc_test::recv_n;

// [snippet:users-service]
/// What a user writes: their generated service, each stream method served from a StreamFunc.
class UsersService final : public rgrpctest::Users::CallbackService {
 public:
  UsersService(reflex::StreamFunc users, reflex::StreamFunc orders)
      : users_(std::move(users)), orders_(std::move(orders)) {}

  grpc::ServerWriteReactor<reflexpb::Event>* StreamUsers(
      grpc::CallbackServerContext* context, const reflexpb::StreamRequest* request) override {
    return streams.serve(context, *request, users_);
  }
  grpc::ServerWriteReactor<reflexpb::Event>* StreamOrders(
      grpc::CallbackServerContext* context, const reflexpb::StreamRequest* request) override {
    return streams.serve(context, *request, orders_);
  }

  reflex::rgrpc::StreamServer streams;

 private:
  reflex::StreamFunc users_;
  reflex::StreamFunc orders_;
};
// [end snippet]

struct Logs {
  reflex::MemLog users;
  reflex::MemLog orders;
  Logs() {
    for (int i = 0; i < 5; ++i) users.append(1, "user-" + std::to_string(i));
    for (int i = 0; i < 7; ++i) orders.append(2, "order-" + std::to_string(i));
  }
};

TEST(GenericApi, ServesStreamMethodsOfAUsersOwnGeneratedService) {
  Logs logs;
  UsersService service(logs.users.stream_func(), logs.orders.stream_func());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  ASSERT_TRUE(server);
  const auto address = "127.0.0.1:" + std::to_string(port);

  // [snippet:stubs]
  // Through the generated stub's methods...
  std::shared_ptr<rgrpctest::Users::Stub> stub =
      rgrpctest::Users::NewStub(reflex::rgrpc::make_channel({.target = address}));
  auto users = reflex::rgrpc::stream_func(stub, &rgrpctest::Users::Stub::StreamUsers);
  auto orders = reflex::rgrpc::stream_func(stub, &rgrpctest::Users::Stub::StreamOrders);
  // [end snippet]
  EXPECT_EQ(recv_n(*users({}, "", {}), 5), logs.users.events());
  EXPECT_EQ(recv_n(*orders({}, "3", {}), 4), logs.orders.events(4));
  // [snippet:by-name]
  // ...and by method name, without generated client code.
  auto by_name =
      reflex::rgrpc::stream_func({.target = address, .method = "/rgrpctest.Users/StreamOrders"});
  // [end snippet]
  EXPECT_EQ(recv_n(*by_name({}, "", {}), 7), logs.orders.events());

  // stop() ends open streams with Stopped and refuses new ones, before the gRPC server stops.
  auto open = users({}, "5", {});
  std::jthread reader([&] { EXPECT_THROW((void)open->recv(), reflex::Stopped); });
  ASSERT_TRUE(rgrpc_test::eventually([&] { return service.streams.stats().open_streams == 1; }));
  service.streams.stop();
  reader.join();
  EXPECT_THROW((void)users({}, "", {})->recv(), reflex::Stopped);
  EXPECT_EQ(service.streams.stats().open_streams, 0u);
  server->Shutdown(std::chrono::system_clock::now() + 1s);
}

TEST(GenericApi, ServerServesMethodsOfAnyServiceByName) {
  Logs logs;
  // [snippet:server-by-name]
  reflex::rgrpc::Server server(std::vector<reflex::rgrpc::Endpoint>{
      {.method = "/rgrpctest.Users/StreamUsers", .stream = logs.users.stream_func()},
      {.method = "/rgrpctest.Users/StreamOrders", .stream = logs.orders.stream_func()},
      {.method = "/reflexpb.Reflex/Stream", .stream = logs.orders.stream_func()},
  });
  // [end snippet]
  std::shared_ptr<rgrpctest::Users::Stub> stub =
      rgrpctest::Users::NewStub(reflex::rgrpc::make_channel({.target = server.address()}));
  auto users = reflex::rgrpc::stream_func(stub, &rgrpctest::Users::Stub::StreamUsers);
  auto orders = reflex::rgrpc::stream_func(stub, &rgrpctest::Users::Stub::StreamOrders);
  EXPECT_EQ(recv_n(*users({}, "", {.to_head = true}), 5), logs.users.events());
  EXPECT_EQ(recv_n(*orders({}, "", {}), 7), logs.orders.events());
  std::shared_ptr<reflexpb::Reflex::Stub> reflex_stub =
      reflexpb::Reflex::NewStub(reflex::rgrpc::make_channel({.target = server.address()}));
  auto default_method = reflex::rgrpc::stream_func(reflex_stub, &reflexpb::Reflex::Stub::Stream);
  EXPECT_EQ(recv_n(*default_method({}, "6", {}), 1), logs.orders.events(7));
}

TEST(GenericApi, ServerRejectsBadOrDuplicateMethodNames) {
  reflex::MemLog log;
  const auto error_of = [&](std::vector<reflex::rgrpc::Endpoint> endpoints) -> std::string {
    try {
      reflex::rgrpc::Server server(std::move(endpoints));
    } catch (const reflex::ConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(
      error_of({{.method = "Stream", .stream = log.stream_func()}}).find("/package.Service/Method"),
      std::string::npos);
  EXPECT_NE(error_of({{.method = "/a.B/C", .stream = log.stream_func()},
                      {.method = "/a.B/C", .stream = log.stream_func()}})
                .find("served twice"),
            std::string::npos);
  EXPECT_NE(error_of({{.method = "/a.B/C", .stream = {}}}).find("no stream function"),
            std::string::npos);
  EXPECT_NE(error_of({}).find("at least one endpoint"), std::string::npos);
}

TEST(GenericApi, ConversionsKeepEveryFieldAndEncodeLagOnlyWhenPositive) {
  const reflex::Event event{
      .id = "42",
      .type = 9,
      .foreign_id = "f",
      .timestamp = std::chrono::system_clock::time_point(std::chrono::nanoseconds(-1)),
      .metadata = "m",
      .trace = "t"};
  reflexpb::Event message;
  reflex::rgrpc::to_proto(event, message);
  EXPECT_EQ(message.timestamp().seconds(), -1);
  EXPECT_EQ(message.timestamp().nanos(), 999'999'999);
  EXPECT_EQ(reflex::rgrpc::from_proto(message), event);

  EXPECT_FALSE(reflex::rgrpc::to_request("7", {}).options().has_lag());
  const auto request = reflex::rgrpc::to_request("7", {.lag = 2500ms, .to_head = true});
  EXPECT_EQ(request.after(), "7");
  EXPECT_EQ(request.options().lag().seconds(), 2);
  EXPECT_EQ(request.options().lag().nanos(), 500'000'000);
  EXPECT_TRUE(request.options().tohead());
  EXPECT_FALSE(request.options().fromhead());
  EXPECT_EQ(reflex::rgrpc::from_proto(request.options()),
            (reflex::StreamOptions{.lag = 2500ms, .to_head = true}));

  message.mutable_timestamp()->set_seconds(std::int64_t{1} << 62);
  EXPECT_THROW((void)reflex::rgrpc::from_proto(message), reflex::Error);
}

}  // namespace
