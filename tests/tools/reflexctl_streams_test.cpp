// reflexctl streams (ensure, info, delete) and relay --create-stream, against the throwaway
// nats-server: a fresh NATS needs no other tooling for the relay's stream.

#include <nlohmann/json.hpp>

#include "reflex/rnats/rnats.hpp"
#include "reflexctl_harness.hpp"

namespace {

using namespace reflexctl_test;
using namespace std::chrono_literals;

TEST(ReflexctlNats, StreamsAreEnsuredShownAndDeleted) {
  const std::string url = reflex_test::required_env("REFLEX_TEST_NATS_URL");
  const std::string name = reflex_test::unique_name("CTLSTREAM");
  const std::string address = url + "?stream=" + name;
  const auto created = run({"streams", "ensure", address, "--subjects", name + ".a," + name + ".b",
                            "--storage", "memory", "--max-age", "1h", "--max-events", "1000",
                            "--duplicate-window", "30s", "--description", "test stream"});
  ASSERT_EQ(created.status, 0) << created.err;
  const auto json = nlohmann::json::parse(created.out);
  EXPECT_EQ(json["name"], name);
  EXPECT_EQ(json["messages"], 0);

  reflex::rnats::Connection conn({.url = url, .name = "reflexctl-test"});
  (void)reflex::rnats::publish(conn, {.subject = name + ".b", .data = "x"});
  const auto info = run({"streams", "info", address});
  ASSERT_EQ(info.status, 0) << info.err;
  EXPECT_EQ(nlohmann::json::parse(info.out)["last_sequence"], 1) << info.out;
  // Ensuring again with the same settings changes nothing; another limit updates it.
  EXPECT_EQ(run({"streams", "ensure", address, "--subjects", name + ".a," + name + ".b",
                 "--storage", "memory", "--max-events", "10"})
                .status,
            0);
  const auto storage =
      run({"streams", "ensure", address, "--subjects", name + ".a", "--storage", "file"});
  EXPECT_EQ(storage.status, 2) << "JetStream refuses to change the storage: " << storage.err;
  EXPECT_EQ(lines(storage.err).size(), 1u) << storage.err;

  EXPECT_EQ(run({"streams", "delete", address}).status, 0);
  const auto gone = run({"streams", "info", address});
  EXPECT_EQ(gone.status, 1);
  EXPECT_EQ(gone.err, "reflexctl streams: no stream named \"" + name + "\"\n");
  EXPECT_EQ(run({"streams", "delete", address}).status, 1);

  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"streams", "ensure", url},
        std::vector<std::string>{"streams", "ensure", address, "--storage", "disk"},
        std::vector<std::string>{"streams", "ensure", address, "--replicas", "6"},
        std::vector<std::string>{"streams", "ensure", address, "--discard", "all"},
        std::vector<std::string>{"streams", "info", "sqlite:///x.db?table=t"},
        std::vector<std::string>{"streams"}}) {
    const auto r = run(bad);
    EXPECT_EQ(r.status, 2) << bad.back() << ": " << r.err;
    EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
  }
}

TEST_F(Reflexctl, RelayCreatesItsStreamOnAFreshNatsWhenAsked) {
  const std::string url = reflex_test::required_env("REFLEX_TEST_NATS_URL");
  const std::string stream = reflex_test::unique_name("CTLNEW");
  ASSERT_EQ(run({"publish", source},
                "{\"foreign_id\":\"x\",\"type\":1}\n{\"foreign_id\":\"y\",\"type\":2}\n")
                .status,
            0);
  const std::string target = url + "?stream=" + stream + "&subject=" + stream + ".events";
  const auto missing = run({"relay", source, target, "--consumer", "outbox", "--to-head"});
  EXPECT_EQ(missing.status, 2) << missing.err;
  EXPECT_EQ(lines(missing.err).size(), 1u) << missing.err;
  EXPECT_NE(missing.err.find("--create-stream"), std::string::npos) << missing.err;

  const auto relayed =
      run({"relay", source, target, "--consumer", "outbox", "--to-head", "--create-stream"});
  EXPECT_EQ(relayed.status, 0) << relayed.err;
  EXPECT_NE(relayed.err.find("created JetStream stream \"" + stream + "\""), std::string::npos)
      << relayed.err;
  EXPECT_NE(relayed.err.find("2 new events acknowledged, cursor 2"), std::string::npos)
      << relayed.err;
  const auto info = run({"streams", "info", url + "?stream=" + stream});
  ASSERT_EQ(info.status, 0) << info.err;
  EXPECT_EQ(nlohmann::json::parse(info.out)["messages"], 2) << info.out;
  // The stream is there now: --create-stream leaves it as it is.
  const auto again =
      run({"relay", source, target, "--consumer", "outbox", "--to-head", "--create-stream"});
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.err.find("created"), std::string::npos) << again.err;
  EXPECT_EQ(run({"streams", "delete", url + "?stream=" + stream}).status, 0);
}

}  // namespace
