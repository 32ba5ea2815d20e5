// Streaming over real TCP loopback: a MemLog served by rgrpc::Server, read by rgrpc::stream_func.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <reflex/reflex.hpp>
#include <reflex/rgrpc/client.hpp>
#include <reflex/rgrpc/errors.hpp>
#include <reflex/rgrpc/server.hpp>

#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using rgrpc_test::recv_n;

struct Fixture {
  reflex::MemLog log;
  std::shared_ptr<rgrpc_test::SourceLog> source = std::make_shared<rgrpc_test::SourceLog>();
  reflex::rgrpc::Server server{rgrpc_test::recorded(log.stream_func(), source)};
  reflex::StreamFunc remote = reflex::rgrpc::stream_func({.target = server.address()});

  void append(int n) {
    for (int i = 0; i < n; ++i) log.append(i % 3 + 1, "user-" + std::to_string(i));
  }
};

TEST(GrpcStream, ListensOnAFreeLoopbackPort) {
  Fixture f;
  EXPECT_GT(f.server.port(), 0);
  EXPECT_EQ(f.server.address(), "127.0.0.1:" + std::to_string(f.server.port()));
}

TEST(GrpcStream, StreamsEveryEventInOrder) {
  Fixture f;
  f.append(500);
  auto client = f.remote({}, "", {});
  const auto got = recv_n(*client, 500);
  EXPECT_EQ(got, f.log.events());
}

TEST(GrpcStream, DeliversEventsAppendedWhileStreaming) {
  Fixture f;
  auto client = f.remote({}, "", {});
  std::jthread producer([&] {
    for (int i = 0; i < 50; ++i) {
      f.log.append(1, std::to_string(i));
      std::this_thread::sleep_for(1ms);  // appends interleave with the streaming
    }
  });
  const auto got = recv_n(*client, 50);
  producer.join();
  EXPECT_EQ(got, f.log.events());
}

TEST(GrpcStream, StreamsAfterACursor) {
  Fixture f;
  f.append(10);
  auto client = f.remote({}, "7", {});
  const auto got = recv_n(*client, 3);
  EXPECT_EQ(got, f.log.events(8, 3));
  std::lock_guard lock(f.source->mu);
  EXPECT_EQ(f.source->afters.back(), "7");
}

TEST(GrpcStream, FromHeadStartsAfterTheNewestEvent) {
  Fixture f;
  f.append(5);
  auto client = f.remote({}, "", {.from_head = true});
  ASSERT_TRUE(rgrpc_test::eventually([&] { return f.source->open.load() == 1; }));
  f.log.append(9, "new");
  const auto event = client->recv();
  EXPECT_EQ(event.id, "6");
  EXPECT_EQ(event.foreign_id, "new");
}

TEST(GrpcStream, ToHeadEndsWithHeadReachedOnTheClient) {
  Fixture f;
  f.append(3);
  auto client = f.remote({}, "", {.to_head = true});
  EXPECT_EQ(recv_n(*client, 3), f.log.events());
  EXPECT_THROW((void)client->recv(), reflex::HeadReached);
  // The end is sticky: the call is over.
  EXPECT_THROW((void)client->recv(), reflex::HeadReached);
}

TEST(GrpcStream, OptionsReachTheSourceExactly) {
  Fixture f;
  f.append(1);
  const reflex::StreamOptions sent{.lag = 1500ms, .from_head = false, .to_head = true};
  auto client = f.remote({}, "", sent);
  EXPECT_THROW((void)client->recv(), reflex::HeadReached);  // the one event is too young
  auto head = f.remote({}, "", {.from_head = true, .to_head = true});
  EXPECT_THROW((void)head->recv(), reflex::HeadReached);
  std::lock_guard lock(f.source->mu);
  ASSERT_EQ(f.source->options.size(), 2u);
  EXPECT_EQ(f.source->options[0], sent);
  EXPECT_EQ(f.source->options[1], (reflex::StreamOptions{.from_head = true, .to_head = true}));
}

TEST(GrpcStream, LagHoldsBackEventsUntilTheyAreOldEnough) {
  Fixture f;
  f.append(1);
  const auto start = std::chrono::steady_clock::now();
  auto client = f.remote({}, "", {.lag = 400ms});
  const auto event = client->recv();
  EXPECT_EQ(event.id, "1");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 350ms);
  // With to_head, an event younger than the lag is not available yet.
  f.append(1);
  auto young = f.remote({}, "1", {.lag = 10s, .to_head = true});
  EXPECT_THROW((void)young->recv(), reflex::HeadReached);
}

TEST(GrpcStream, TypeTimestampMetadataAndTraceRoundTripExactly) {
  Fixture f;
  using std::chrono::system_clock;
  const std::vector<reflex::Event> sent = {
      {.id = {},
       .type = -7,
       .foreign_id = "ü-ñ",
       // Microseconds and nanoseconds survive.
       .timestamp = system_clock::time_point(std::chrono::nanoseconds(1'700'000'000'123'456'789)),
       .metadata = std::string("\0\x01\xff bytes", 9),
       .trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
      {.id = {},
       .type = 2147483647,
       .foreign_id = "",
       // Before 1970: Timestamp nanos stay positive and the value is exact.
       .timestamp = system_clock::time_point(std::chrono::microseconds(-1'234'567)),
       .metadata = "",
       .trace = ""},
      {.id = {},
       .type = 0,
       .foreign_id = "x",
       .timestamp = system_clock::time_point(std::chrono::microseconds(1'700'000'000'000'001)),
       .metadata = std::string(100'000, 'z'),
       .trace = ""},
  };
  for (const auto& e : sent) f.log.append(e);
  auto client = f.remote({}, "", {});
  EXPECT_EQ(recv_n(*client, sent.size()), f.log.events());
}

TEST(GrpcStream, ABadCursorGivesCursorErrorOnTheClient) {
  Fixture f;
  f.append(1);
  auto client = f.remote({}, "not-a-number", {});
  try {
    (void)client->recv();
    FAIL() << "expected CursorError";
  } catch (const reflex::CursorError& e) {
    EXPECT_NE(std::string(e.what()).find("not-a-number"), std::string::npos) << e.what();
    EXPECT_FALSE(e.retryable());
  }
}

TEST(GrpcStream, AnUnreachableServerGivesRetryableUnavailable) {
  std::string address;
  {
    reflex::MemLog log;
    reflex::rgrpc::Server server(log.stream_func());
    address = server.address();
  }  // nothing listens there now
  auto remote = reflex::rgrpc::stream_func({.target = address});
  auto client = remote({}, "", {});
  try {
    (void)client->recv();
    FAIL() << "expected Unavailable";
  } catch (const reflex::Unavailable& e) {
    EXPECT_TRUE(e.retryable());
    EXPECT_NE(std::string(e.what()).find("UNAVAILABLE"), std::string::npos) << e.what();
  }
}

TEST(GrpcStream, AnUnknownMethodGivesConfigError) {
  Fixture f;
  auto remote = reflex::rgrpc::stream_func(
      {.target = f.server.address(), .method = "/reflexpb.Reflex/NoSuchMethod"});
  auto client = remote({}, "", {});
  EXPECT_THROW((void)client->recv(), reflex::ConfigError);
}

TEST(GrpcStream, SourceFailuresMapToRetryableOrNot) {
  const auto failing = [](std::exception_ptr error) -> reflex::StreamFunc {
    return [error](std::stop_token, std::string_view,
                   const reflex::StreamOptions&) -> std::unique_ptr<reflex::StreamClient> {
      std::rethrow_exception(error);
    };
  };
  reflex::rgrpc::Server server(
      std::vector<reflex::rgrpc::Endpoint>{
          {.method = "/t.S/Unavailable",
           .stream = failing(std::make_exception_ptr(reflex::Unavailable("db down")))},
          {.method = "/t.S/Config",
           .stream = failing(std::make_exception_ptr(reflex::ConfigError("bad table")))},
          {.method = "/t.S/Std",
           .stream = failing(std::make_exception_ptr(std::runtime_error("boom")))},
          {.method = "/t.S/Stopped", .stream = failing(std::make_exception_ptr(reflex::Stopped()))},
      },
      {});
  const auto recv_error = [&](const std::string& method) -> std::exception_ptr {
    auto client =
        reflex::rgrpc::stream_func({.target = server.address(), .method = method})({}, "", {});
    try {
      (void)client->recv();
    } catch (...) {
      return std::current_exception();
    }
    return nullptr;
  };
  const auto unavailable = recv_error("/t.S/Unavailable");
  ASSERT_NE(reflex::find_error<reflex::Unavailable>(unavailable), nullptr);
  EXPECT_NE(std::string(reflex::find_error<reflex::Error>(unavailable)->what()).find("db down"),
            std::string::npos);
  const auto* config = reflex::find_error<reflex::rgrpc::RemoteError>(recv_error("/t.S/Config"));
  ASSERT_NE(config, nullptr);
  EXPECT_FALSE(config->retryable());
  EXPECT_NE(std::string(config->what()).find("bad table"), std::string::npos);
  const auto* unknown = reflex::find_error<reflex::rgrpc::RemoteError>(recv_error("/t.S/Std"));
  ASSERT_NE(unknown, nullptr);
  EXPECT_NE(std::string(unknown->what()).find("boom"), std::string::npos);
  EXPECT_NE(reflex::find_error<reflex::Stopped>(recv_error("/t.S/Stopped")), nullptr);
}

TEST(GrpcStream, RunConsumesARemoteStreamWithLocalCursors) {
  Fixture f;
  f.append(20);
  auto cursors = std::make_shared<reflex::MemCursorStore>();
  std::vector<std::string> seen;
  reflex::Spec spec{.stream = f.remote,
                    .cursors = cursors,
                    .consumer = reflex::make_consumer(
                        "remote-consumer", [&](const reflex::Event& e) { seen.push_back(e.id); }),
                    .options = {.to_head = true}};
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(seen.size(), 20u);
  EXPECT_EQ(cursors->get("remote-consumer"), "20");
  // A second run resumes after the stored cursor.
  f.append(5);
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_EQ(seen[20], "21");
  EXPECT_EQ(cursors->get("remote-consumer"), "25");
}

TEST(GrpcStream, ACallPicksANamedStreamByMetadataAndAnUnknownNameIsConfigError) {
  reflex::MemLog users, orders;
  users.append(1, "u");
  orders.append(2, "o1");
  orders.append(2, "o2");
  reflex::rgrpc::Server server(std::vector<reflex::rgrpc::Endpoint>{
      {.stream = users.stream_func(),
       .named = {{"users", users.stream_func()}, {"orders", orders.stream_func()}}}});
  const auto read_all = [&](const std::string& name) {
    std::vector<std::string> ids;
    for (const auto& e : reflex_test::read_to_head(
             reflex::rgrpc::stream_func({.target = server.address(), .stream = name}))) {
      ids.push_back(e.foreign_id);
    }
    return ids;
  };
  EXPECT_EQ(read_all(""), std::vector<std::string>{"u"});
  EXPECT_EQ(read_all("users"), std::vector<std::string>{"u"});
  EXPECT_EQ(read_all("orders"), (std::vector<std::string>{"o1", "o2"}));
  try {
    (void)read_all("invoices");
    FAIL() << "an unknown stream name must fail";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no stream named \"invoices\""), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("orders, users"), std::string::npos) << e.what();
  }
}

TEST(ClientOptionsFromUri, ReadsTheStreamNameAndATokenFile) {
  const auto path =
      std::filesystem::temp_directory_path() / ("rgrpc-token-" + std::to_string(::getpid()));
  std::ofstream(path) << "  s3cret\n";
  auto options = reflex::rgrpc::client_options_from_uri("grpc://h:1?stream=orders&token_file=" +
                                                        path.string());
  EXPECT_EQ(options.stream, "orders");
  EXPECT_EQ(options.token, "s3cret");
  EXPECT_THROW(
      (void)reflex::rgrpc::client_options_from_uri("grpc://:other@h:1?token_file=" + path.string()),
      reflex::ConfigError);
  std::filesystem::remove(path);
  EXPECT_THROW(
      (void)reflex::rgrpc::client_options_from_uri("grpc://h:1?token_file=" + path.string()),
      reflex::ConfigError);
}

TEST(ClientOptionsFromUri, ParsesPlaintextTlsTokenAndMethod) {
  auto plain = reflex::rgrpc::client_options_from_uri("grpc://127.0.0.1:9090");
  EXPECT_EQ(plain.target, "127.0.0.1:9090");
  EXPECT_FALSE(plain.tls);
  EXPECT_EQ(plain.method, "/reflexpb.Reflex/Stream");
  auto with_token = reflex::rgrpc::client_options_from_uri("grpc://:s3cret@host:1?method=/a.B/C");
  EXPECT_EQ(with_token.token, "s3cret");
  EXPECT_EQ(with_token.method, "/a.B/C");
  auto tls = reflex::rgrpc::client_options_from_uri("grpcs://[::1]:443?server_name=x");
  EXPECT_EQ(tls.target, "[::1]:443");
  ASSERT_TRUE(tls.tls);
  EXPECT_EQ(tls.tls->server_name, "x");
}

TEST(ClientOptionsFromUri, RejectsWhatItCannotUseWithoutLeakingTheToken) {
  const auto error_of = [](const char* uri) -> std::string {
    try {
      (void)reflex::rgrpc::client_options_from_uri(uri);
    } catch (const reflex::ConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(error_of("http://h:1").find("grpc://host:port"), std::string::npos);
  EXPECT_NE(error_of("grpc://h").find("port"), std::string::npos);
  EXPECT_NE(error_of("grpc://h:1?method=nope").find("/package.Service/Method"), std::string::npos);
  const auto typo = error_of("grpc://:topsecret@h:1?methd=/a.B/C");
  EXPECT_NE(typo.find("methd"), std::string::npos) << typo;
  EXPECT_EQ(typo.find("topsecret"), std::string::npos) << typo;
  EXPECT_NE(error_of("grpcs://h:1?ca=/no/such/file.pem").find("/no/such/file.pem"),
            std::string::npos);
}

}  // namespace
