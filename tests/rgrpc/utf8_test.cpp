// An event whose id or foreign id is not UTF-8 cannot travel as a reflexpb message (protobuf
// strings). Whichever side meets it, the stream ends at once with an error naming the event;
// nothing hangs, and nothing retries what cannot change.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"
#include "reflex/rgrpc/client.hpp"
#include "reflex/rgrpc/server.hpp"
#include "users.grpc.pb.h"

namespace {

using namespace std::chrono_literals;

/// Reads `stream` from the start until it throws; the error's message and retryability, or a
/// failure when reading takes longer than `limit` (the bug this guards against is a hang).
struct Outcome {
  std::vector<std::string> ids;
  std::string error;
  bool retryable = true;
};
Outcome read_until_error(const reflex::StreamFunc& stream, std::chrono::seconds limit) {
  auto done = std::async(std::launch::async, [&] {
    Outcome out;
    std::stop_source stop;
    auto client = stream(stop.get_token(), "", {});
    try {
      for (;;) out.ids.push_back(client->recv().id);
    } catch (const std::exception& e) {
      out.error = e.what();
      out.retryable = reflex::is_retryable(e);
    }
    return out;
  });
  if (done.wait_for(limit) != std::future_status::ready) {
    ADD_FAILURE() << "the stream did not end within " << limit.count() << " s: it hangs";
    std::abort();  // the reader thread cannot be joined; end the test process loudly
  }
  return done.get();
}

TEST(Utf8OnTheWire, OurServerEndsTheStreamAtAnEventItCannotSendAndNamesIt) {
  reflex::MemLog log;
  log.append(1, "ok");
  log.append(1, std::string("\xc3", 1));
  log.append(1, "never sent");
  reflex::rgrpc::Server server(log.stream_func());
  const auto out = read_until_error(
      reflex::rgrpc::stream_func(reflex::rgrpc::ClientOptions{.target = server.address()}), 10s);
  EXPECT_EQ(out.ids, std::vector<std::string>{"1"});
  EXPECT_NE(out.error.find("event 2"), std::string::npos) << out.error;
  EXPECT_NE(out.error.find("not valid UTF-8"), std::string::npos) << out.error;
  EXPECT_FALSE(out.retryable) << "the row will not change by itself: " << out.error;
}

/// Sends an event, then one whose foreign id is not UTF-8, then keeps the stream open as a
/// server with nothing new to send does.
class RawServer final : public rgrpctest::RawReflex::Service {
 public:
  grpc::Status Stream(grpc::ServerContext* context, const reflexpb::StreamRequest*,
                      grpc::ServerWriter<rgrpctest::RawEvent>* writer) override {
    rgrpctest::RawEvent event;
    event.set_type(1);
    event.set_id("1");
    event.set_foreign_id("ok");
    writer->Write(event);
    event.set_id("2");
    event.set_foreign_id(std::string("\xc3", 1));
    writer->Write(event);
    // No more events yet: hold the stream open until the client goes (bounded, so a client that
    // never cancels cannot keep the server's thread).
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (!context->IsCancelled() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(5ms);
    }
    return grpc::Status::OK;
  }
};

TEST(Utf8OnTheWire, OurClientEndsAtAnEventItCannotParseInsteadOfWaitingForever) {
  RawServer service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  const auto server = builder.BuildAndStart();
  ASSERT_GT(port, 0);
  const auto out = read_until_error(
      reflex::rgrpc::stream_func(reflex::rgrpc::ClientOptions{
          .target = "127.0.0.1:" + std::to_string(port), .method = "/rgrpctest.RawReflex/Stream"}),
      10s);
  EXPECT_EQ(out.ids, std::vector<std::string>{"1"});
  EXPECT_NE(out.error.find("event 2"), std::string::npos) << out.error;
  EXPECT_NE(out.error.find("foreign id is not valid UTF-8"), std::string::npos) << out.error;
  EXPECT_FALSE(out.retryable) << out.error;
  server->Shutdown(std::chrono::system_clock::now() + 2s);
}

}  // namespace
