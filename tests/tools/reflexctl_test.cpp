// reflexctl driven as a process: publish, tail, cursors, backfill, schema, help and errors, against
// temp-file SQLite and the throwaway PostgreSQL and MariaDB.

#include <nlohmann/json.hpp>

#include "reflex_test/postgres.hpp"
#include "reflexctl_harness.hpp"

namespace {

using namespace reflexctl_test;
using namespace std::chrono_literals;

TEST_F(Reflexctl, PublishThenTailToHeadPrintsEveryEventAsJson) {
  const auto published = run({"publish", source},
                             "{\"foreign_id\":\"a\",\"type\":1,\"metadata\":\"aGk=\"}\n"
                             "{\"foreign_id\":\"b\",\"type\":2}\n");
  ASSERT_EQ(published.status, 0) << published.err;
  const auto tailed = run({"tail", source, "--to-head"});
  ASSERT_EQ(tailed.status, 0) << tailed.err;
  const auto got = lines(tailed.out);
  ASSERT_EQ(got.size(), 2u) << tailed.out;
  EXPECT_TRUE(got[0].starts_with(R"({"id":"1","type":1,"foreign_id":"a","timestamp":")")) << got[0];
  EXPECT_NE(got[0].find(R"("metadata":"aGk=")"), std::string::npos) << got[0];
  EXPECT_NE(got[0].find("Z\""), std::string::npos) << "RFC 3339 UTC: " << got[0];
  EXPECT_EQ(got[1].find("metadata"), std::string::npos) << "empty metadata is omitted";

  EXPECT_EQ(lines(run({"tail", source, "--to-head", "--after", "1"}).out).size(), 1u);
  EXPECT_EQ(lines(run({"tail", source, "--to-head", "--types", "2"}).out).size(), 1u);
  EXPECT_EQ(lines(run({"tail", source, "--limit", "1"}).out).size(), 1u);
}

TEST_F(Reflexctl, ABadPublishLineIsRejectedWithItsNumberAndNothingAfterItIsWritten) {
  const auto r = run({"publish", source},
                     "{\"foreign_id\":\"a\",\"type\":1}\n{\"foreign_id\":\"b\"}\n"
                     "{\"foreign_id\":\"c\",\"type\":1}\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
  EXPECT_EQ(lines(run({"tail", source, "--to-head"}).out).size(), 1u);
}

TEST_F(Reflexctl, PublishReadsWhatGoAndPythonEncodersWriteAndTailGivesItBack) {
  // Go's json.Marshal escapes < > & as \u003c \u003e \u0026 and writes null for empty bytes;
  // Python's json.dumps escapes non-ASCII and puts spaces after ':' and ','.
  const auto published = run(
      {"publish", source},
      "{\"foreign_id\":\"\\u003cb\\u003e \\u0026 "
      "co\",\"type\":1,\"metadata\":null,\"trace\":null}\n"
      "{\"foreign_id\": \"caf\\u00e9 \\u2603\", \"type\": 2, \"metadata\": \"aGk=\", \"trace\": "
      "null}\n");
  ASSERT_EQ(published.status, 0) << published.err;
  const auto tailed = run({"tail", source, "--to-head"});
  ASSERT_EQ(tailed.status, 0) << tailed.err;
  const auto got = lines(tailed.out);
  ASSERT_EQ(got.size(), 2u) << tailed.out;
  const auto first = nlohmann::json::parse(got[0]);
  EXPECT_EQ(first["foreign_id"], "<b> & co");
  EXPECT_FALSE(first.contains("metadata")) << got[0];
  EXPECT_FALSE(first.contains("trace")) << got[0];
  const auto second = nlohmann::json::parse(got[1]);
  EXPECT_EQ(second["foreign_id"], "caf\xC3\xA9 \xE2\x98\x83");
  EXPECT_EQ(second["type"], 2);
  EXPECT_EQ(second["metadata"], "aGk=");

  // An unknown field stays an error naming its line.
  const auto unknown = run({"publish", source}, "{\"type\":1,\"colour\":\"red\"}\n");
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.err.find("line 1: unknown field \"colour\""), std::string::npos) << unknown.err;
}

TEST_F(Reflexctl, AForeignIdThatIsNotUtf8TailsAsValidJsonInBase64) {
  // SQLite keeps any bytes in a TEXT column; \xC3 alone is no UTF-8.
  db->execute("INSERT INTO events (foreign_id, type) VALUES (CAST(X'C3' AS TEXT), 5)");
  const auto tailed = run({"tail", source, "--to-head"});
  ASSERT_EQ(tailed.status, 0) << tailed.err;
  const auto got = lines(tailed.out);
  ASSERT_EQ(got.size(), 1u) << tailed.out;
  nlohmann::json event;
  ASSERT_NO_THROW(event = nlohmann::json::parse(got[0])) << got[0];
  EXPECT_EQ(event["foreign_id_base64"], "ww==") << got[0];
  EXPECT_FALSE(event.contains("foreign_id")) << got[0];
  EXPECT_EQ(event["type"], 5);
}

TEST_F(Reflexctl, CursorsAreSetReadListedAndNeverRewoundWithoutForce) {
  EXPECT_EQ(run({"cursors", "set", store, "billing", "10"}).status, 0);
  EXPECT_EQ(run({"cursors", "get", store, "billing"}).out, "10\n");
  const auto back = run({"cursors", "set", store, "billing", "5"});
  EXPECT_EQ(back.status, 2);
  EXPECT_NE(back.err.find("--force"), std::string::npos) << back.err;
  EXPECT_EQ(run({"cursors", "set", store, "billing", "5", "--force"}).status, 0);
  EXPECT_EQ(run({"cursors", "list", store}).out, "billing\t5\n");
  EXPECT_EQ(run({"cursors", "delete", store, "billing"}).status, 0);
  const auto gone = run({"cursors", "get", store, "billing"});
  EXPECT_EQ(gone.status, 1);
  EXPECT_EQ(gone.err, "reflexctl cursors: no cursor named 'billing'\n");
}

TEST_F(Reflexctl, CursorsListShowsTheShardsOfSharedConsumersInTextAndJson) {
  EXPECT_EQ(run({"cursors", "set", store, "billing", "10"}).status, 0);
  EXPECT_EQ(run({"cursors", "list", store}).out, "billing\t10\n") << "no shards table: no block";
  db->create_shards_tables();
  reflex::rsql::ShardsTable shards(db);
  const auto lease = shards.acquire("mailer", 1, "host-1-ab", std::chrono::hours(1));
  ASSERT_TRUE(lease);
  shards.write_cursor("mailer", 1, lease->token, "42");
  shards.force_cursor("mailer", 0, "7");
  const auto text = run({"cursors", "list", store});
  ASSERT_EQ(text.status, 0) << text.err;
  const auto got = lines(text.out);
  ASSERT_EQ(got.size(), 5u) << text.out;
  EXPECT_EQ(got[0], "billing\t10");
  EXPECT_EQ(got[1], "");
  EXPECT_EQ(got[2], "CONSUMER\tSHARD\tOWNER\tTOKEN\tEXPIRES_IN\tCURSOR");
  EXPECT_EQ(got[3], "mailer\t0\t-\t0\t-\t7");
  EXPECT_TRUE(got[4].starts_with("mailer\t1\thost-1-ab\t1\t")) << got[4];
  EXPECT_TRUE(got[4].ends_with("s\t42")) << got[4];

  const auto json = run({"cursors", "list", store, "--json"});
  ASSERT_EQ(json.status, 0) << json.err;
  const auto out = nlohmann::json::parse(json.out);
  ASSERT_EQ(out["cursors"].size(), 1u) << json.out;
  EXPECT_EQ(out["cursors"][0]["name"], "billing");
  ASSERT_EQ(out["shards"].size(), 2u) << json.out;
  EXPECT_EQ(out["shards"][1]["consumer"], "mailer");
  EXPECT_EQ(out["shards"][1]["shard"], 1);
  EXPECT_EQ(out["shards"][1]["owner"], "host-1-ab");
  EXPECT_EQ(out["shards"][1]["token"], 1);
  EXPECT_EQ(out["shards"][1]["cursor"], "42");
  EXPECT_GT(out["shards"][1]["expires_in_ms"].get<long long>(), 3'500'000) << json.out;
  EXPECT_TRUE(out["shards"][0]["expires_in_ms"].is_null()) << "a free shard expires never";

  // Another table name with ?shards=: none there.
  db->create_shards_tables({.table = "other_shards", .members_table = "other_members"});
  EXPECT_EQ(run({"cursors", "list", store + "&shards=other_shards"}).out, "billing\t10\n");
}

TEST_F(Reflexctl, BackfillStopsAtAFailingCommandAndResumesThere) {
  ASSERT_EQ(run({"publish", source},
                "{\"foreign_id\":\"1\",\"type\":1}\n{\"foreign_id\":\"2\",\"type\":1}\n"
                "{\"foreign_id\":\"3\",\"type\":1}\n{\"foreign_id\":\"4\",\"type\":1}\n")
                .status,
            0);
  const std::string seen = (dir.path() / "seen").string();
  // Records each event's foreign id; fails on foreign id 3 while the file "broken" exists.
  const std::string broken = (dir.path() / "broken").string();
  const std::string script =
      "read line; id=$(echo \"$line\" | sed 's/.*\"foreign_id\":\"\\([0-9]*\\)\".*/\\1/'); "
      "if [ \"$id\" = 3 ] && [ -e " +
      broken + " ]; then exit 7; fi; echo $id >> " + seen;
  ASSERT_EQ(std::system(("touch " + broken).c_str()), 0);
  const auto first = run({"backfill", source, "--consumer", "mailer", "--cursors", store,
                          "--to-head", "--", "sh", "-c", script});
  EXPECT_EQ(first.status, 7) << first.err;
  EXPECT_NE(first.err.find("command failed with status 7"), std::string::npos) << first.err;
  EXPECT_EQ(run({"cursors", "get", store, "mailer"}).out, "2\n");

  std::filesystem::remove(broken);
  const auto second = run({"backfill", source, "--consumer", "mailer", "--cursors", store,
                           "--to-head", "--", "sh", "-c", script});
  EXPECT_EQ(second.status, 0) << second.err;
  EXPECT_NE(second.err.find("2 events"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("reached the head"), std::string::npos) << second.err;
  std::ifstream file(seen);
  std::string all((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(all, "1\n2\n3\n4\n");
}

TEST_F(Reflexctl, HelpIsGeneratedPerCommand) {
  const auto tail_help = run({"help", "tail"});
  EXPECT_EQ(tail_help.status, 0);
  EXPECT_NE(tail_help.out.find("usage: reflexctl tail"), std::string::npos) << tail_help.out;
  EXPECT_NE(tail_help.out.find("--from-head"), std::string::npos) << tail_help.out;
  EXPECT_NE(tail_help.out.find("foreign_id_base64"), std::string::npos) << tail_help.out;
  EXPECT_EQ(tail_help.out.find("backfill"), std::string::npos)
      << "the general help: " << tail_help.out;
  EXPECT_EQ(run({"tail", "--help"}).out, tail_help.out);

  const auto set_help = run({"help", "cursors", "set"});
  EXPECT_EQ(set_help.status, 0);
  EXPECT_NE(set_help.out.find("usage: reflexctl cursors set"), std::string::npos) << set_help.out;
  EXPECT_NE(set_help.out.find("--force"), std::string::npos) << set_help.out;
  EXPECT_EQ(run({"cursors", "set", "--help"}).out, set_help.out);

  const auto serve_help = run({"serve", "--help"});
  EXPECT_EQ(serve_help.status, 0);
  for (const char* variable : {"REFLEX_LISTEN", "REFLEX_STREAMS", "REFLEX_HTTP", "REFLEX_TLS_CERT",
                               "REFLEX_TLS_KEY", "REFLEX_TOKEN_FILE", ":0 picks a free port"}) {
    EXPECT_NE(serve_help.out.find(variable), std::string::npos) << variable;
  }
  const auto general = run({"--help"});
  EXPECT_EQ(general.status, 0);
  for (const char* command : {"tail", "backfill", "relay", "publish", "serve", "cursors", "schema"})
    EXPECT_NE(general.out.find(command), std::string::npos) << command;
  EXPECT_EQ(run({"help"}).out, general.out);
}

TEST_F(Reflexctl, SchemaPrintsTheDdlOfEachDialect) {
  for (const char* dialect : {"postgres", "mysql", "sqlite"}) {
    const auto r = run({"schema", dialect, "--events", "user_events"});
    EXPECT_EQ(r.status, 0) << dialect;
    EXPECT_NE(r.out.find("user_events"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("cursors"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("inbox"), std::string::npos) << "printed a table not asked for";
    const auto more = run({"schema", dialect, "--inbox", "inbox", "--shards", "shards"});
    EXPECT_EQ(more.status, 0) << dialect;
    EXPECT_NE(more.out.find("inbox"), std::string::npos) << more.out;
    EXPECT_NE(more.out.find("shard_members"), std::string::npos) << more.out;
    EXPECT_EQ(more.out.find("event_uuid"), std::string::npos) << "printed a table not asked for";
    const auto entities = run({"schema", dialect, "--entities", "orders", "--entity-events",
                               "order_events", "--cache", "kv_cache", "--mutexes", "kv_locks"});
    EXPECT_EQ(entities.status, 0) << dialect;
    EXPECT_NE(entities.out.find("orders"), std::string::npos) << entities.out;
    EXPECT_NE(entities.out.find("order_events_uuid_idx"), std::string::npos) << entities.out;
    EXPECT_NE(entities.out.find("kv_cache_expires_idx"), std::string::npos) << entities.out;
    EXPECT_NE(entities.out.find("kv_locks"), std::string::npos) << entities.out;
  }
}

TEST_F(Reflexctl, BadInputGivesAOneLineErrorAndTheRightExitCode) {
  struct Case {
    std::vector<std::string> args;
    int status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{}, 2, "usage"},
      {{"frobnicate"}, 2, "unknown command"},
      {{"tail"}, 2, "one SOURCE"},
      {{"tail", "oracle://h/db"}, 2, "unknown"},
      {{"tail", "sqlite://" + path}, 2, "table"},
      {{"tail", "sqlite://" + path + "?table=ev;drop"}, 2, "not a valid SQL name"},
      {{"tail", source, "--lag", "5parsecs"}, 2, "--lag"},
      {{"tail", source, "--after", "abc"}, 2, "not an event id"},
      {{"tail", source, "--bogus"}, 2, "unknown option"},
      {{"tail", "postgresql://u:pw@127.0.0.1:1/db?table=events", "--to-head", "--no-retry"},
       1,
       "unreachable"},
      {{"schema", "oracle"}, 2, "unknown dialect"},
      {{"serve", "--stream", "a=" + source}, 2, "--listen"},
      {{"serve", "--listen", "127.0.0.1:0"}, 2, "--stream"},
      {{"serve", "--listen", "127.0.0.1:0", "--stream", source}, 2, "NAME=SOURCE"},
      {{"serve", "--listen", "127.0.0.1:0", "--stream", "a=" + source, "--stream", "a=" + source},
       2,
       "given twice"},
      {{"serve", "--listen", "127.0.0.1:0", "--stream", "a=" + source, "--token-file",
        "/nonexistent/token"},
       2,
       "token file"},
      {{"serve", "--listen", "127.0.0.1:0", "--stream", "a=" + source, "--tls-cert", "x.pem"},
       2,
       "--tls-key"},
      {{"tail", "grpc://127.0.0.1:1?token_file=/nonexistent/token"}, 2, "token file"},
      {{"tail", "grpc://127.0.0.1:1?colour=blue"}, 2, "colour"},
  };
  for (const auto& c : cases) {
    const auto r = run(c.args);
    EXPECT_EQ(r.status, c.status) << r.err;
    EXPECT_NE(r.err.find(c.says) + r.out.find(c.says), 2 * std::string::npos) << r.err << r.out;
  }
}

/// Publishes three events in batches of two to a server outbox and tails them after the first.
void publish_then_tail(const std::string& source) {
  ASSERT_EQ(run({"publish", source, "--batch", "2"},
                "{\"foreign_id\":\"1\",\"type\":1}\n{\"foreign_id\":\"2\",\"type\":1}\n"
                "{\"foreign_id\":\"3\",\"type\":7,\"metadata\":\"AAE=\"}\n")
                .status,
            0);
  const auto tailed = run({"tail", source, "--to-head", "--after", "1"});
  ASSERT_EQ(tailed.status, 0) << tailed.err;
  const auto got = lines(tailed.out);
  ASSERT_EQ(got.size(), 2u) << tailed.out;
  EXPECT_NE(got[0].find(R"("foreign_id":"2")"), std::string::npos) << got[0];
  EXPECT_NE(got[1].find(R"("type":7)"), std::string::npos) << got[1];
  EXPECT_NE(got[1].find(R"("metadata":"AAE=")"), std::string::npos) << got[1];
}

TEST(ReflexctlPostgres, PublishesAndTailsAPostgresOutbox) {
  publish_then_tail(server_source("REFLEX_TEST_PG_DSN"));
}

TEST(ReflexctlPostgres, AFollowerSeesEachPublishedEventWithinMilliseconds) {
  const std::string source = server_source("REFLEX_TEST_PG_DSN");
  Background follower({"tail", source});
  // The follower is at the head and idle before the events come: LISTENing, and its polls
  // backed off for a second (1, 2, 4 ... 512 ms apart), so only a NOTIFY is prompt for event 1.
  const auto db = reflex::rsql::Database::open(reflex_test::required_env("REFLEX_TEST_PG_DSN"));
  const std::string table = source.substr(source.find("?table=") + 7);
  ASSERT_TRUE(reflex_test::eventually([&] { return reflex_test::pg_listening(*db, table); }))
      << "the follower never LISTENed: " << follower.err();
  std::this_thread::sleep_for(1s);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(
        run({"publish", source}, "{\"foreign_id\":\"" + std::to_string(i) + "\",\"type\":1}\n")
            .status,
        0);
    const auto published = std::chrono::steady_clock::now();
    (void)reflex_test::eventually(
        [&] { return lines(follower.out()).size() == static_cast<std::size_t>(i); }, 5s);
    const auto seen = std::chrono::steady_clock::now() - published;
    ASSERT_EQ(lines(follower.out()).size(), static_cast<std::size_t>(i)) << follower.err();
    // The idle poll is 1 s when notify is on: far below it means the wake-up came by NOTIFY.
    EXPECT_LT(seen, 300ms) << "event " << i;
  }
  follower.signal(SIGTERM);
  EXPECT_EQ(follower.wait(10s), 0) << follower.err();
}

TEST(ReflexctlPostgres, ErrorsAreOneLineEvenWhenTheLibrarySaysMore) {
  // libpq: "…failed: Connection refused\n\tIs the server running on that host…".
  const auto closed = LoopbackPort::closed();
  const auto refused = run(
      {"tail",
       "postgresql://postgres@127.0.0.1:" + std::to_string(closed.port()) + "/reflex?table=events",
       "--to-head", "--no-retry"});
  EXPECT_EQ(refused.status, 1) << refused.err;
  EXPECT_EQ(lines(refused.err).size(), 1u) << refused.err;
  EXPECT_EQ(refused.err.find('\t'), std::string::npos) << refused.err;
  EXPECT_TRUE(refused.err.starts_with("reflexctl tail: ")) << refused.err;
  EXPECT_EQ(refused.err.find("table=events"), std::string::npos)
      << "?table= is reflexctl's, it must not reach the driver: " << refused.err;

  // PostgreSQL: "…does not exist\nLINE 1: … FROM \"…\" W…\n      ^".
  const std::string dsn = reflex_test::required_env("REFLEX_TEST_PG_DSN");
  const auto missing =
      run({"tail", dsn + "?table=" + reflex_test::unique_name("missing"), "--to-head"});
  EXPECT_EQ(missing.status, 2) << missing.err;
  EXPECT_EQ(lines(missing.err).size(), 1u) << missing.err;
  EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;
}

TEST(ReflexctlPostgres, TailsAStandbyWithPrimaryAndWithoutItSaysToConfigureIt) {
  const std::string source = server_source("REFLEX_TEST_PG_DSN");
  const std::string table = source.substr(source.find("?table=") + 7);
  const std::string primary = reflex_test::required_env("REFLEX_TEST_PG_DSN");
  const std::string standby =
      reflex_test::required_env("REFLEX_TEST_PG_REPLICA_DSN") + "?table=" + table;
  ASSERT_EQ(run({"publish", source},
                "{\"foreign_id\":\"1\",\"type\":1}\n{\"foreign_id\":\"2\",\"type\":1}\n")
                .status,
            0);
  // Once the standby replayed them, it tails both.
  Result tailed;
  EXPECT_TRUE(reflex_test::eventually(
      [&] {
        tailed = run({"tail", standby, "--to-head", "--primary", primary});
        return lines(tailed.out).size() == 2;
      },
      10s))
      << tailed.err << tailed.out;
  EXPECT_EQ(tailed.status, 0) << tailed.err;

  const auto without = run({"tail", standby, "--to-head"});
  EXPECT_EQ(without.status, 2) << without.err;
  EXPECT_EQ(lines(without.err).size(), 1u) << without.err;
  EXPECT_NE(without.err.find("standby"), std::string::npos) << without.err;
  EXPECT_NE(without.err.find("--primary"), std::string::npos) << without.err;
}

TEST(ReflexctlMariaDb, PublishesAndTailsAMariaDbOutbox) {
  publish_then_tail(server_source("REFLEX_TEST_MYSQL_DSN"));
}

}  // namespace
