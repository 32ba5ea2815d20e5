// reflexctl serve: named streams over gRPC with a token, settings from the environment, the
// operator endpoints (/healthz at once, /readyz from background probes, /metrics) and its ports.

#include "reflexctl_harness.hpp"

namespace {

using namespace reflexctl_test;
using namespace std::chrono_literals;

TEST_F(Reflexctl, ServeStreamsNamedSourcesOverGrpcWithATokenAndDrainsOnSigterm) {
  ASSERT_EQ(run({"publish", source},
                "{\"foreign_id\":\"a\",\"type\":1}\n{\"foreign_id\":\"b\",\"type\":2}\n")
                .status,
            0);
  db->create_events_table({.table = "audit"});
  ASSERT_EQ(
      run({"publish", "sqlite://" + path + "?table=audit"}, "{\"foreign_id\":\"z\",\"type\":9}\n")
          .status,
      0);
  const std::string token_file = (dir.path() / "token").string();
  std::ofstream(token_file) << "s3cret\n";
  Background server({"serve", "--listen", "127.0.0.1:0", "--stream", "events=" + source, "--stream",
                     "audit=sqlite://" + path + "?table=audit", "--http", "127.0.0.1:0",
                     "--token-file", token_file});
  const std::string grpc_port = server.wait_for_err("gRPC on 127\\.0\\.0\\.1:([0-9]+)");
  const std::string http_port = server.wait_for_err("HTTP on port ([0-9]+)");
  ASSERT_FALSE(grpc_port.empty()) << server.err();
  ASSERT_FALSE(http_port.empty()) << server.err();
  const std::string address = "grpc://127.0.0.1:" + grpc_port;

  // The default stream is the first; ?stream= picks another; the token comes from a file.
  const auto events = run({"tail", address + "?token_file=" + token_file, "--to-head"});
  ASSERT_EQ(events.status, 0) << events.err;
  const auto got = lines(events.out);
  ASSERT_EQ(got.size(), 2u) << events.out;
  EXPECT_NE(got[1].find("\"foreign_id\":\"b\""), std::string::npos) << got[1];
  const auto audit = run({"tail", address + "?stream=audit&token_file=" + token_file, "--to-head"});
  ASSERT_EQ(audit.status, 0) << audit.err;
  ASSERT_EQ(lines(audit.out).size(), 1u) << audit.out;
  EXPECT_NE(audit.out.find("\"type\":9"), std::string::npos) << audit.out;

  const auto no_token = run({"tail", address, "--to-head"});
  EXPECT_EQ(no_token.status, 2) << no_token.err;
  EXPECT_NE(no_token.err.find("UNAUTHENTICATED"), std::string::npos) << no_token.err;
  const auto wrong_token = run({"tail", "grpc://:guess@127.0.0.1:" + grpc_port, "--to-head"});
  EXPECT_NE(wrong_token.err.find("UNAUTHENTICATED"), std::string::npos) << wrong_token.err;
  const auto unknown = run({"tail", address + "?stream=nope&token_file=" + token_file});
  EXPECT_EQ(unknown.status, 2) << unknown.err;
  EXPECT_NE(unknown.err.find("no stream named \"nope\""), std::string::npos) << unknown.err;

  const int http = std::stoi(http_port);
  EXPECT_EQ(http_get(http, "/healthz").status, 200);
  const auto ready = http_get(http, "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  const auto metrics = http_get(http, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("reflex_serve_events_sent_total 3"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("reflex_table_rows_loaded_total{table=\"events\"} 2"),
            std::string::npos)
      << metrics.body;
  EXPECT_EQ(http_get(http, "/nothing").status, 404);

  // A follower is open when SIGTERM comes: it is told the server stopped, the server exits 0.
  Background follower({"tail", address + "?token_file=" + token_file, "--no-retry"});
  ASSERT_TRUE(reflex_test::eventually([&] { return lines(follower.out()).size() == 2; }))
      << follower.out() << follower.err();
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(10s), 0) << server.err();
  EXPECT_NE(server.err().find("stopped; 3 streams served, 5 events sent"), std::string::npos)
      << server.err();
  EXPECT_EQ(follower.wait(10s), 1);
  EXPECT_NE(follower.err().find("stopped by the server"), std::string::npos) << follower.err();
}

TEST_F(Reflexctl, ServeTakesItsSettingsFromTheEnvironmentAndReportsUnreadySources) {
  Background server({"serve"}, {"REFLEX_LISTEN=127.0.0.1:0", "REFLEX_HTTP=127.0.0.1:0",
                                "REFLEX_STREAMS=events=" + source + " missing=sqlite://" + path +
                                    "?table=missing"});
  const std::string http_port = server.wait_for_err("HTTP on port ([0-9]+)");
  ASSERT_FALSE(http_port.empty()) << server.err();
  EXPECT_NE(server.err().find("streams: events, missing; default events"), std::string::npos)
      << server.err();
  // Said at start, without anyone asking: the table is missing.
  EXPECT_FALSE(server
                   .wait_for_err("reflexctl serve: warning: stream missing \\(sqlite://" + path +
                                 "\\?table=missing\\) is not ready: table 'missing' does not "
                                 "exist")
                   .empty())
      << server.err();
  const auto ready = http_get(std::stoi(http_port), "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("missing: table 'missing' does not exist"), std::string::npos)
      << ready.body;
  EXPECT_EQ(ready.body.find("events:"), std::string::npos) << ready.body;
  server.signal(SIGINT);
  EXPECT_EQ(server.wait(10s), 0) << server.err();
  EXPECT_EQ(server.err().find("warning: stream events"), std::string::npos) << server.err();
  EXPECT_EQ(lines(server.err()).size(), 3u) << "start, one warning, stop: " << server.err();
}

TEST_F(Reflexctl, HealthzAnswersAtOnceWhileAProbeHangsAndReadyzNamesTheUnreachableSources) {
  // One PostgreSQL source on a closed port (refused at once), one on a port that accepts and
  // never answers (a probe hangs until libpq gives up).
  const auto closed = LoopbackPort::closed();
  const auto silent = LoopbackPort::silent();
  const auto dsn = [](int port) {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/reflex?table=events";
  };
  Background server({"serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--stream",
                     "closed=" + dsn(closed.port()), "--stream", "silent=" + dsn(silent.port())});
  const std::string http_port = server.wait_for_err("HTTP on port ([0-9]+)");
  ASSERT_FALSE(http_port.empty()) << server.err();
  const int http = std::stoi(http_port);

  HttpReply ready;
  std::jthread readyz([&] { ready = http_get(http, "/readyz"); });
  std::this_thread::sleep_for(100ms);  // /readyz is waiting for the silent source meanwhile
  for (int i = 0; i < 3; ++i) {
    const auto asked = std::chrono::steady_clock::now();
    const auto health = http_get(http, "/healthz");
    const auto took = std::chrono::steady_clock::now() - asked;
    EXPECT_EQ(health.status, 200);
    EXPECT_LT(took, 200ms) << "/healthz took "
                           << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                           << " ms";
    std::this_thread::sleep_for(100ms);  // asked again, while /readyz still hangs
  }
  readyz.join();
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_NE(ready.body.find("closed: PostgreSQL at"), std::string::npos) << ready.body;
  EXPECT_NE(ready.body.find("silent: "), std::string::npos) << ready.body;
  EXPECT_EQ(lines(ready.body).size(), 2u) << "one line per source: " << ready.body;
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(10s), 0) << server.err();
}

TEST_F(Reflexctl, ServePortsOutsideOneTo65535AreUsageErrors) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--listen", "127.0.0.1:99999"},
        std::vector<std::string>{"--listen", "127.0.0.1:65536"},
        std::vector<std::string>{"--listen", "127.0.0.1:0", "--http", "127.0.0.1:65536"},
        std::vector<std::string>{"--listen", "127.0.0.1:http"}}) {
    std::vector<std::string> command = {"serve", "--stream", "a=" + source};
    command.insert(command.end(), args.begin(), args.end());
    Background serve(command);  // the old behaviour was to serve on another port: bounded wait
    EXPECT_EQ(serve.wait(10s), 2) << args[1] << ": " << serve.err();
    EXPECT_NE(serve.err().find("the port must be a number from 1 to 65535"), std::string::npos)
        << serve.err();
    EXPECT_EQ(lines(serve.err()).size(), 1u) << serve.err();
  }
}

}  // namespace
