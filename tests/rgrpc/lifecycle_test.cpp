// Ends of streams: client cancel, deadline, vanished peer, graceful stop, slow readers, limits.
#include <gtest/gtest.h>

#include <cstdio>
#include <reflex/reflex.hpp>
#include <reflex/rgrpc/client.hpp>
#include <reflex/rgrpc/generic.hpp>
#include <reflex/rgrpc/server.hpp>

#include "hot_source.hpp"
#include "reflex_test/process.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using rgrpc_test::eventually;
using Clock = std::chrono::steady_clock;

TEST(GrpcLifecycle, ClientCancelStopsTheServerSideSourcePromptly) {
  reflex::MemLog log;
  log.append(1, "a");
  auto source = std::make_shared<rgrpc_test::SourceLog>();
  reflex::rgrpc::Server server(rgrpc_test::recorded(log.stream_func(), source));
  std::stop_source stop;
  auto client = reflex::rgrpc::stream_func({.target = server.address()})(stop.get_token(), "", {});
  EXPECT_EQ(client->recv().id, "1");
  std::jthread reader([&] { EXPECT_THROW((void)client->recv(), reflex::Canceled); });
  std::this_thread::sleep_for(50ms);  // let it block in recv
  const auto start = Clock::now();
  stop.request_stop();
  reader.join();
  EXPECT_LT(Clock::now() - start, 500ms);
  EXPECT_TRUE(eventually([&] { return source->open.load() == 0; }, 2s));
  EXPECT_EQ(source->stop_seen.load(), 1);
  EXPECT_TRUE(eventually([&] { return server.stats().open_streams == 0; }, 2s));
}

TEST(GrpcLifecycle, DroppingAClientMidStreamStopsTheServerSideSource) {
  auto counters = std::make_shared<reflex_test::HotSourceCounters>();
  reflex::rgrpc::Server server(reflex_test::hot_source(1'000'000, 16, counters));
  {
    auto client = reflex::rgrpc::stream_func({.target = server.address()})({}, "", {});
    for (int i = 0; i < 1000; ++i) (void)client->recv();
  }
  EXPECT_TRUE(eventually([&] { return counters->closed.load() == 1; }, 2s));
  EXPECT_TRUE(eventually([&] { return server.stats().open_streams == 0; }, 2s));
}

TEST(GrpcLifecycle, ACallDeadlineStopsTheServerSideSource) {
  reflex::MemLog log;
  auto source = std::make_shared<rgrpc_test::SourceLog>();
  reflex::rgrpc::Server server(rgrpc_test::recorded(log.stream_func(), source));
  auto stub = reflexpb::Reflex::NewStub(reflex::rgrpc::make_channel({.target = server.address()}));
  auto remote = reflex::rgrpc::stream_func(reflex::rgrpc::StreamOpener(
      [&](grpc::ClientContext* context, const reflexpb::StreamRequest& request) {
        context->set_deadline(std::chrono::system_clock::now() + 300ms);
        return stub->Stream(context, request);
      }));
  auto client = remote({}, "", {});
  const auto start = Clock::now();
  EXPECT_THROW((void)client->recv(), reflex::Unavailable);
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_TRUE(eventually([&] { return source->open.load() == 0; }, 2s));
  EXPECT_EQ(source->stop_seen.load(), 1);
}

TEST(GrpcLifecycle, AKilledPeerProcessStopsTheServerSideSource) {
  reflex::MemLog log;
  log.append(1, "a");
  auto source = std::make_shared<rgrpc_test::SourceLog>();
  reflex::rgrpc::Server server(rgrpc_test::recorded(log.stream_func(), source));

  reflex_test::Process peer({RGRPC_TEST_PEER, server.address()});
  ASSERT_EQ(peer.wait_for_out("ready ([0-9]+)\n"), "1") << peer.out() << peer.err();
  ASSERT_EQ(source->open.load(), 1);

  peer.kill();
  const auto start = Clock::now();
  EXPECT_TRUE(eventually([&] { return source->open.load() == 0; }, 5s));
  EXPECT_LT(Clock::now() - start, 2s) << "the source outlived its vanished client";
  EXPECT_TRUE(eventually([&] { return server.stats().open_streams == 0; }, 2s));
}

TEST(GrpcLifecycle, GracefulStopGivesStoppedToEveryOpenClient) {
  reflex::MemLog log;
  log.append(1, "a");
  auto source = std::make_shared<rgrpc_test::SourceLog>();
  reflex::rgrpc::Server server(rgrpc_test::recorded(log.stream_func(), source));
  auto remote = reflex::rgrpc::stream_func({.target = server.address()});
  constexpr int kClients = 4;
  std::atomic<int> stopped{0};
  std::vector<std::jthread> readers;
  for (int i = 0; i < kClients; ++i) {
    readers.emplace_back([&] {
      auto client = remote({}, "", {});
      (void)client->recv();
      try {
        (void)client->recv();  // blocks: no more events
      } catch (const reflex::Stopped& e) {
        EXPECT_TRUE(e.retryable());
        EXPECT_TRUE(reflex::is_expected(e));
        stopped.fetch_add(1);
      }
    });
  }
  ASSERT_TRUE(eventually([&] { return source->open.load() == kClients; }));
  std::this_thread::sleep_for(50ms);  // the readers block in their second recv (not observable)
  const auto start = Clock::now();
  server.stop();
  const auto took = Clock::now() - start;
  readers.clear();  // joins
  EXPECT_EQ(stopped.load(), kClients);
  EXPECT_LT(took, 1s);
  EXPECT_EQ(source->open.load(), 0);
  EXPECT_EQ(server.stats().open_streams, 0u);
  server.stop();  // harmless
  // Nothing is served any more: new streams fail with a retryable error.
  auto late = remote({}, "", {});
  EXPECT_THROW((void)late->recv(), reflex::Unavailable);
}

TEST(GrpcLifecycle, StopWhileAClientDoesNotReadEndsWithinTheStopTimeout) {
  auto counters = std::make_shared<reflex_test::HotSourceCounters>();
  reflex::rgrpc::Server server(reflex_test::hot_source(10'000'000, 1024, counters),
                               {.stop_timeout = 500ms});
  auto client = reflex::rgrpc::stream_func({.target = server.address()})({}, "", {});
  (void)client->recv();
  // Wait until flow control holds the server's write back.
  ASSERT_TRUE(eventually(
      [&] {
        const auto before = server.stats().events_sent;
        std::this_thread::sleep_for(100ms);  // held back = nothing sent within this window
        return before > 0 && server.stats().events_sent == before;
      },
      10s));
  const auto start = Clock::now();
  server.stop();
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_EQ(counters->closed.load(), 1);
}

TEST(GrpcLifecycle, AClientThatStopsReadingKeepsServerBufferingBounded) {
  auto counters = std::make_shared<reflex_test::HotSourceCounters>();
  constexpr std::size_t kEventBytes = 1024;
  reflex::rgrpc::Server server(reflex_test::hot_source(10'000'000, kEventBytes, counters));
  auto client = reflex::rgrpc::stream_func({.target = server.address()})({}, "", {});
  (void)client->recv();  // then never again
  // Let flow control fill up, then check that nothing more moves.
  std::uint64_t sent = 0;
  ASSERT_TRUE(eventually(
      [&] {
        const auto before = server.stats().events_sent;
        std::this_thread::sleep_for(300ms);  // stalled = nothing sent within this window
        sent = server.stats().events_sent;
        return sent == before && sent > 0;
      },
      10s))
      << "the server kept sending to a client that does not read";
  const auto produced = counters->produced.load();
  std::printf("stalled client: %llu events sent (%llu KiB), %llu produced\n",
              static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(sent * kEventBytes / 1024),
              static_cast<unsigned long long>(produced));
  // Of a 10 GB stream, only what HTTP/2 flow control windows hold (a few MiB) went out, and the
  // source was read no further than the server's small queue ahead of that.
  EXPECT_LT(sent * kEventBytes, 32u << 20);
  EXPECT_LE(produced, sent + 64 + 1);
  std::this_thread::sleep_for(500ms);  // and still nothing moves
  EXPECT_EQ(server.stats().events_sent, sent);
}

TEST(GrpcLifecycle, StreamsBeyondMaxStreamsAreRefusedAsRetryable) {
  reflex::MemLog log;
  log.append(1, "a");
  auto source = std::make_shared<rgrpc_test::SourceLog>();
  reflex::rgrpc::Server server(rgrpc_test::recorded(log.stream_func(), source), {.max_streams = 2});
  auto remote = reflex::rgrpc::stream_func({.target = server.address()});
  auto first = remote({}, "", {});
  auto second = remote({}, "", {});
  (void)first->recv();
  (void)second->recv();
  auto third = remote({}, "", {});
  try {
    (void)third->recv();
    FAIL() << "expected Unavailable";
  } catch (const reflex::Unavailable& e) {
    EXPECT_NE(std::string(e.what()).find("max_streams"), std::string::npos) << e.what();
  }
  EXPECT_EQ(server.stats().streams_refused, 1u);
  first.reset();
  ASSERT_TRUE(eventually([&] { return server.stats().open_streams == 1; }));
  auto fourth = remote({}, "", {});
  EXPECT_EQ(fourth->recv().id, "1");
}

}  // namespace
