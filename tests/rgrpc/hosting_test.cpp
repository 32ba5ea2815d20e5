// The ready-made server as a daemon uses it: services of the caller's own beside (or instead of)
// the event streams, their health, interceptors on every call, and the caller's own drain step in
// stop().

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>
#include <gtest/gtest.h>

#include <atomic>
#include <reflex/reflex.hpp>
#include <reflex/rgrpc/generic.hpp>
#include <reflex/rgrpc/server.hpp>

#include "health.hpp"
#include "users.grpc.pb.h"

namespace {

using rgrpc_test::health_check;

/// A service of the caller's own: StreamUsers answers with one event of a MemLog.
class Users final : public rgrpctest::Users::CallbackService {
 public:
  explicit Users(reflex::StreamFunc stream) : stream_(std::move(stream)) {}
  grpc::ServerWriteReactor<reflexpb::Event>* StreamUsers(
      grpc::CallbackServerContext* context, const reflexpb::StreamRequest* request) override {
    return streams.serve(context, *request, stream_);
  }
  reflex::rgrpc::StreamServer streams;

 private:
  reflex::StreamFunc stream_;
};

/// Counts the calls it sees, by method.
class Counting final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    if (std::string(info->method()) == "/rgrpctest.Users/StreamUsers") ++users_calls;
    return nullptr;  // observing is enough
  }
  std::atomic<int> users_calls{0};
};

TEST(Hosting, AServerOfOnlyTheCallersServicesServesThemWithHealthAndInterceptors) {
  reflex::MemLog log;
  log.append(1, "a");
  Users users(log.stream_func());
  auto counting = std::make_shared<Counting>();
  std::atomic<int> drained{0};
  reflex::rgrpc::Server server(std::vector<reflex::rgrpc::Endpoint>{},
                               {.services = {&users},
                                .service_names = {"rgrpctest.Users"},
                                .interceptors = {counting},
                                .on_stop = [&] {
                                  users.streams.stop();
                                  ++drained;
                                }});
  const auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  EXPECT_EQ(health_check(channel, "rgrpctest.Users"), 1);

  const auto stream = reflex::rgrpc::stream_func(
      channel, reflex::rgrpc::CallOptions{.method = "/rgrpctest.Users/StreamUsers"});
  auto client = stream({}, "", {.to_head = true});
  EXPECT_EQ(client->recv().foreign_id, "a");
  EXPECT_THROW((void)client->recv(), reflex::HeadReached);
  EXPECT_EQ(counting->users_calls.load(), 1);

  server.set_serving("rgrpctest.Users", false);
  EXPECT_EQ(health_check(channel, "rgrpctest.Users"), 2) << "NOT_SERVING";
  server.set_serving("rgrpctest.Users", true);
  EXPECT_EQ(health_check(channel, "rgrpctest.Users"), 1);

  server.stop();
  EXPECT_EQ(drained.load(), 1) << "stop() runs the caller's drain once";
}

TEST(Hosting, AServerWithNothingToServeIsAConfigError) {
  EXPECT_THROW(reflex::rgrpc::Server(std::vector<reflex::rgrpc::Endpoint>{}, {}),
               reflex::ConfigError);
}

}  // namespace
