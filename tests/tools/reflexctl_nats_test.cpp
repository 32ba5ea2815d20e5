// reflexctl with NATS: cursors in a KV bucket, the outbox relay (to head, resumed, with a password
// and several servers) and tailing a JetStream stream.

#include "reflex/rnats/rnats.hpp"
#include "reflex_test/nats.hpp"
#include "reflexctl_harness.hpp"

namespace {

using namespace reflexctl_test;
using namespace std::chrono_literals;

TEST(ReflexctlNats, CursorsInAKvBucketAreSetReadListedDeletedAndNeverRewoundWithoutForce) {
  const std::string url = reflex_test::required_env("REFLEX_TEST_NATS_URL");
  const std::string bucket = reflex_test::unique_name("CTLCUR");
  const std::string store = url + "?bucket=" + bucket;
  reflex::rnats::Connection conn({.url = url, .name = "reflexctl-test"});
  struct RemoveBucket {
    reflex::rnats::Connection& conn;
    const std::string& bucket;
    ~RemoveBucket() {
      try {
        reflex::rnats::StateStore::remove(conn, bucket);
      } catch (...) {
      }
    }
  } remove_bucket{conn, bucket};

  // A mistyped bucket is an error, not a new empty bucket.
  const auto missing = run({"cursors", "list", store});
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("no KV bucket \"" + bucket + "\""), std::string::npos) << missing.err;
  EXPECT_FALSE(reflex::rnats::StateStore::remove(conn, bucket)) << "the bucket was created";
  (void)reflex::rnats::StateStore::ensure(conn, {.name = bucket});  // as backfill or relay would
  EXPECT_EQ(run({"cursors", "list", store}).out, "");
  const auto set = run({"cursors", "set", store, "billing", "10"});
  EXPECT_EQ(set.status, 0) << set.err;
  EXPECT_EQ(run({"cursors", "get", store, "billing"}).out, "10\n");
  const auto back = run({"cursors", "set", store, "billing", "5"});
  EXPECT_EQ(back.status, 2);
  EXPECT_NE(back.err.find("--force"), std::string::npos) << back.err;
  const auto forced = run({"cursors", "set", store, "billing", "5", "--force"});
  EXPECT_EQ(forced.status, 0) << forced.err;
  EXPECT_EQ(run({"cursors", "get", store, "billing"}).out, "5\n");
  EXPECT_EQ(run({"cursors", "set", store, "mailer/eu v2", "7"}).status, 0);
  const auto listed = run({"cursors", "list", store});
  EXPECT_EQ(listed.status, 0) << listed.err;
  EXPECT_EQ(listed.out, "billing\t5\nmailer/eu v2\t7\n");
  // The tool writes where the library reads: escaped keys in the bucket.
  const auto kv = reflex::rnats::StateStore::open(conn, bucket);
  EXPECT_EQ(kv.get(reflex::rnats::escape_key("mailer/eu v2"))->value, "7");

  const auto deleted = run({"cursors", "delete", store, "billing"});
  EXPECT_EQ(deleted.status, 0) << deleted.err;
  EXPECT_EQ(run({"cursors", "get", store, "billing"}).status, 1);
  const auto again = run({"cursors", "delete", store, "billing"});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.err.find("reflexctl cursors: no cursor named 'billing'"), std::string::npos)
      << again.err;
  EXPECT_EQ(run({"cursors", "list", store}).out, "mailer/eu v2\t7\n");
  // After a delete the cursor starts afresh: a low value is no rewind.
  EXPECT_EQ(run({"cursors", "set", store, "billing", "1"}).status, 0);
  EXPECT_EQ(run({"cursors", "get", store, "billing"}).out, "1\n");
}

TEST_F(Reflexctl, RelayThenTailTheJetStreamStream) {
  const std::string url = reflex_test::required_env("REFLEX_TEST_NATS_URL");
  ASSERT_EQ(run({"publish", source},
                "{\"foreign_id\":\"x\",\"type\":1}\n{\"foreign_id\":\"y\",\"type\":2}\n")
                .status,
            0);
  // The relay's stream must exist: create it through the tool's own library.
  const reflex_test::TempStream temp(
      reflex_test::connect("reflexctl-test"),
      {.name = reflex_test::unique_name("CTL"), .storage = reflex::rnats::Storage::memory});
  const std::string& stream = temp.name();
  const auto relayed =
      run({"relay", source, url + "?stream=" + stream + "&subject=" + stream + ".events",
           "--consumer", "outbox", "--to-head"});
  EXPECT_EQ(relayed.status, 0) << relayed.err;
  const auto tailed = run({"tail", url + "?stream=" + stream, "--to-head"});
  EXPECT_EQ(tailed.status, 0) << tailed.err;
  const auto got = lines(tailed.out);
  ASSERT_EQ(got.size(), 2u) << tailed.out << tailed.err;
  EXPECT_NE(got[0].find("\"foreign_id\":\"x\""), std::string::npos) << got[0];
}

TEST_F(Reflexctl, RelayToHeadExitsAtOnceWhenTheStreamHoldsTheHeadAlready) {
  const std::string url = reflex_test::required_env("REFLEX_TEST_NATS_URL");
  ASSERT_EQ(run({"publish", source},
                "{\"foreign_id\":\"x\",\"type\":1}\n{\"foreign_id\":\"y\",\"type\":2}\n")
                .status,
            0);
  const reflex_test::TempStream temp(
      reflex_test::connect("reflexctl-test"),
      {.name = reflex_test::unique_name("CTLHEAD"), .storage = reflex::rnats::Storage::memory});
  const std::string& stream = temp.name();
  const std::vector<std::string> relay = {
      "relay",      source,   url + "?stream=" + stream + "&subject=" + stream + ".events",
      "--consumer", "outbox", "--to-head"};
  const auto first = run(relay);
  ASSERT_EQ(first.status, 0) << first.err;
  EXPECT_NE(first.err.find("2 new events acknowledged, cursor 2"), std::string::npos) << first.err;

  // As after a crash and restart with nothing new: the stream holds event 2, the head.
  const auto started = std::chrono::steady_clock::now();
  Background again(relay);
  EXPECT_EQ(again.wait(10s), 0) << again.err();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_NE(again.err().find("0 new events acknowledged, cursor 2"), std::string::npos)
      << again.err();

  ASSERT_EQ(run({"publish", source}, "{\"foreign_id\":\"z\",\"type\":3}\n").status, 0);
  const auto third = run(relay);
  EXPECT_EQ(third.status, 0) << third.err;
  EXPECT_NE(third.err.find("1 new events acknowledged, cursor 3"), std::string::npos) << third.err;
}

TEST_F(Reflexctl, RelayAndTailKeepTheNatsCredentialsAndServersTheUrlGives) {
  NatsServerWithPassword server("u", "p");
  ASSERT_TRUE(server.ready()) << "nats-server did not start";
  const std::string host = "127.0.0.1:" + std::to_string(server.port());
  const std::string stream = "CTLAUTH";
  ASSERT_EQ(run({"publish", source},
                "{\"foreign_id\":\"x\",\"type\":1}\n{\"foreign_id\":\"y\",\"type\":2}\n")
                .status,
            0);
  {
    reflex::rnats::Connection conn({.url = "nats://u:p@" + host, .name = "reflexctl-test"});
    reflex::rnats::ensure_stream(
        conn,
        {.name = stream, .subjects = {"ctlauth.>"}, .storage = reflex::rnats::Storage::memory});
  }
  const std::string query = "?stream=" + stream + "&subject=ctlauth.events";
  const auto relayed =
      run({"relay", source, "nats://u:p@" + host + query, "--consumer", "outbox", "--to-head"});
  EXPECT_EQ(relayed.status, 0) << relayed.err;
  EXPECT_NE(relayed.err.find("2 new events acknowledged"), std::string::npos) << relayed.err;

  // Several servers of one cluster, comma-separated: the first one is down.
  const std::string down = "nats://u:p@127.0.0.1:" + std::to_string(LoopbackPort::closed().port());
  const auto tailed =
      run({"tail", down + ",nats://u:p@" + host + "?stream=" + stream, "--to-head"});
  EXPECT_EQ(tailed.status, 0) << tailed.err;
  EXPECT_EQ(lines(tailed.out).size(), 2u) << tailed.out << tailed.err;

  const auto refused =
      run({"relay", source, "nats://u:wrong@" + host + query, "--consumer", "outbox", "--to-head"});
  EXPECT_NE(refused.status, 0);
  EXPECT_EQ(lines(refused.err).size(), 1u) << refused.err;
  EXPECT_TRUE(refused.err.starts_with("reflexctl relay: ")) << refused.err;
  EXPECT_NE(refused.err.find("uthoriz"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find("wrong"), std::string::npos)
      << "the password is shown: " << refused.err;
}

}  // namespace
