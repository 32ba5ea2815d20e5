// reflexd's configuration: windshift-server's, stategate's and reflex's own variables, flags over
// the environment, --help naming both, and every bad value a one-line usage error (exit 2).

#include "reflexd_harness.hpp"

namespace {

using namespace reflexd_test;

TEST(ReflexdConfig, HelpListsEveryFlagWithItsEnvironmentVariable) {
  const auto help = run_reflexd({"--help"});
  EXPECT_EQ(help.status, 0) << help.err;
  for (const char* name : {"NATS_URL",
                           "GRPC_PORT",
                           "HEALTH_PORT",
                           "NATS_PUBLISH_ASYNC_MAX_PENDING",
                           "DEVELOPMENT",
                           "REFLEX_LISTEN",
                           "REFLEX_HTTP",
                           "REFLEX_STREAMS",
                           "REFLEX_TLS_CERT",
                           "REFLEX_TLS_KEY",
                           "REFLEX_TOKEN_FILE",
                           "REFLEX_DRAIN_TIMEOUT",
                           "REFLEX_DATABASE",
                           "STATEGATE_PORT",
                           "STATEGATE_TLS_CERT_FILE",
                           "STATEGATE_TLS_KEY_FILE",
                           "STATEGATE_AUTH_DISABLED",
                           "--nats-url",
                           "--grpc-port",
                           "--health-port",
                           "--stream",
                           "--drain-timeout",
                           "--database",
                           "--auth-disabled"}) {
    EXPECT_NE(help.out.find(name), std::string::npos) << name << " in\n" << help.out;
  }
  EXPECT_NE(help.out.find("8080"), std::string::npos) << help.out;  // the defaults are shown
  EXPECT_NE(help.out.find("8088"), std::string::npos) << help.out;
}

TEST(ReflexdConfig, NothingToServeIsAOneLineUsageError) {
  const auto none = run_reflexd({});
  EXPECT_EQ(none.status, 2);
  EXPECT_EQ(reflex_test::lines(none.err).size(), 1u) << none.err;
  EXPECT_NE(none.err.find("NATS_URL"), std::string::npos) << none.err;
  EXPECT_NE(none.err.find("REFLEX_STREAMS"), std::string::npos) << none.err;
  EXPECT_NE(none.err.find("REFLEX_DATABASE"), std::string::npos) << none.err;
}

TEST(ReflexdConfig, BadValuesAreOneLineUsageErrorsNamingTheSetting) {
  const std::string stream = "REFLEX_STREAMS=s=sqlite:///nowhere.db?table=events";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"GRPC_PORT=0", stream}, "GRPC_PORT"},
      {{"GRPC_PORT=65536", stream}, "GRPC_PORT"},
      {{"GRPC_PORT=http", stream}, "GRPC_PORT"},
      {{"HEALTH_PORT=-1", stream}, "HEALTH_PORT"},
      {{"HEALTH_PORT=80x", stream}, "HEALTH_PORT"},
      {{"NATS_URL=http://127.0.0.1:4222"}, "NATS_URL"},
      {{"NATS_URL=nats://"}, "NATS_URL"},
      {{"NATS_URL=nats://127.0.0.1:4222?stream=x"}, "NATS_URL"},
      {{"NATS_URL=nats://127.0.0.1:99999"}, "NATS_URL"},
      {{"NATS_PUBLISH_ASYNC_MAX_PENDING=lots", stream}, "NATS_PUBLISH_ASYNC_MAX_PENDING"},
      {{"NATS_PUBLISH_ASYNC_MAX_PENDING=0", stream}, "NATS_PUBLISH_ASYNC_MAX_PENDING"},
      {{"DEVELOPMENT=maybe", stream}, "DEVELOPMENT"},
      {{"REFLEX_LISTEN=127.0.0.1", stream}, "REFLEX_LISTEN"},
      {{"REFLEX_HTTP=127.0.0.1:70000", stream}, "REFLEX_HTTP"},
      {{"REFLEX_DRAIN_TIMEOUT=5", stream}, "REFLEX_DRAIN_TIMEOUT"},
      {{"REFLEX_STREAMS=no-equals-sign"}, "REFLEX_STREAMS"},
      {{"REFLEX_TLS_CERT=/c.pem", stream}, "REFLEX_TLS_KEY"},
      {{"STATEGATE_PORT=0", stream}, "STATEGATE_PORT"},
      {{"STATEGATE_PORT=port", stream}, "STATEGATE_PORT"},
      {{"STATEGATE_TLS_CERT_FILE=/c.pem", stream}, "STATEGATE_TLS_KEY_FILE"},
      {{"STATEGATE_AUTH_DISABLED=maybe", stream}, "STATEGATE_AUTH_DISABLED"},
      {{"REFLEX_DATABASE=http://127.0.0.1/db"}, "REFLEX_DATABASE"},
      {{"REFLEX_DATABASE=no scheme"}, "REFLEX_DATABASE"},
  };
  for (const auto& [env, named] : cases) {
    const auto result = run_reflexd({}, env);
    EXPECT_EQ(result.status, 2) << env.front() << ": " << result.err;
    EXPECT_EQ(reflex_test::lines(result.err).size(), 1u) << env.front() << ": " << result.err;
    EXPECT_NE(result.err.find(named), std::string::npos) << env.front() << ": " << result.err;
    EXPECT_TRUE(result.err.starts_with("reflexd: ")) << result.err;
  }
  // A flag's bad value says the same.
  const auto flag = run_reflexd({"--grpc-port", "99999", "--nats-url", "nats://127.0.0.1:1"});
  EXPECT_EQ(flag.status, 2) << flag.err;
  EXPECT_NE(flag.err.find("--grpc-port"), std::string::npos) << flag.err;
}

TEST_F(ReflexdTest, StategatePortStandsInForGrpcPortWhichBeatsIt) {
  const LoopbackPort stategate_port = LoopbackPort::closed();
  const LoopbackPort grpc_port = LoopbackPort::closed();
  const std::string database = "REFLEX_DATABASE=sqlite://" + path;
  {
    // stategate's variable alone, with a database only (stategate's services in-process).
    Reflexd daemon({}, {database, "STATEGATE_PORT=" + std::to_string(stategate_port.port()),
                        "REFLEX_HTTP=127.0.0.1:0"});
    ASSERT_TRUE(daemon.started()) << daemon.err();
    EXPECT_TRUE(daemon.grpc().ends_with(":" + std::to_string(stategate_port.port())))
        << daemon.grpc();
  }
  {
    // GRPC_PORT beats it.
    Reflexd daemon({},
                   {database, "STATEGATE_PORT=" + std::to_string(stategate_port.port()),
                    "GRPC_PORT=" + std::to_string(grpc_port.port()), "REFLEX_HTTP=127.0.0.1:0"});
    ASSERT_TRUE(daemon.started()) << daemon.err();
    EXPECT_TRUE(daemon.grpc().ends_with(":" + std::to_string(grpc_port.port()))) << daemon.grpc();
  }
}

TEST_F(ReflexdTest, GrpcPortAndHealthPortAreWindshiftsAndFlagsBeatThem) {
  const LoopbackPort env_port = LoopbackPort::closed();
  const LoopbackPort flag_port = LoopbackPort::closed();
  const LoopbackPort health_port = LoopbackPort::closed();
  {
    // windshift-server's variables alone.
    Reflexd daemon({}, {"REFLEX_STREAMS=" + stream, "GRPC_PORT=" + std::to_string(env_port.port()),
                        "HEALTH_PORT=" + std::to_string(health_port.port())});
    ASSERT_TRUE(daemon.started()) << daemon.err();
    EXPECT_TRUE(daemon.grpc().ends_with(":" + std::to_string(env_port.port()))) << daemon.grpc();
    EXPECT_EQ(daemon.http_port(), health_port.port());
    EXPECT_EQ(http_get(health_port.port(), "/healthz").status, 200);
  }
  {
    // A flag beats its variable, and REFLEX_LISTEN.
    Reflexd daemon({"--grpc-port", std::to_string(flag_port.port())},
                   {"REFLEX_STREAMS=" + stream, "GRPC_PORT=" + std::to_string(env_port.port()),
                    "REFLEX_LISTEN=127.0.0.1:0", "REFLEX_HTTP=127.0.0.1:0"});
    ASSERT_TRUE(daemon.started()) << daemon.err();
    EXPECT_TRUE(daemon.grpc().ends_with(":" + std::to_string(flag_port.port()))) << daemon.grpc();
  }
  {
    // REFLEX_LISTEN beats GRPC_PORT; --stream beats REFLEX_STREAMS.
    Reflexd daemon({"--stream", stream},
                   {"REFLEX_STREAMS=bad", "GRPC_PORT=" + std::to_string(env_port.port()),
                    "REFLEX_LISTEN=127.0.0.1:0", "REFLEX_HTTP=127.0.0.1:0"});
    ASSERT_TRUE(daemon.started()) << daemon.err();
    EXPECT_TRUE(daemon.grpc().starts_with("127.0.0.1:")) << daemon.grpc();
    EXPECT_FALSE(daemon.grpc().ends_with(":" + std::to_string(env_port.port()))) << daemon.grpc();
  }
}

TEST(ReflexdConfig, ADatabaseThatDoesNotAnswerAtStartIsOneLineAndExitCodeOneNotAHang) {
  // Nothing listens on port 1: the connection is refused at once. stategate's tables are made at
  // start, so reflexd cannot begin without its database.
  const auto down =
      run_reflexd({"--database", "postgresql://postgres:secret@127.0.0.1:1/app", "--listen",
                   "127.0.0.1:0", "--http", "127.0.0.1:0", "--auth-disabled", "true"});
  EXPECT_EQ(down.status, 1) << down.err;
  EXPECT_EQ(reflex_test::lines(down.err).size(), 1u) << down.err;
  EXPECT_NE(down.err.find("reflexd cannot serve"), std::string::npos) << down.err;
  EXPECT_NE(down.err.find("127.0.0.1:1"), std::string::npos) << down.err;  // which database
  EXPECT_EQ(down.err.find("secret"), std::string::npos) << down.err;       // never its password
}

}  // namespace
