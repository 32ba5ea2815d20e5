// What reflexctl refuses and how it says so: cursor values that are no event id, numbers and
// durations out of range, a missing cursor, an oversized event, a mistyped SQLite path, gRPC's
// own log lines, and an event reflexpb cannot carry (the UTF-8 contract end to end).

#include "reflex/rnats/rnats.hpp"
#include "reflexctl_harness.hpp"

namespace {

using namespace reflexctl_test;
using namespace std::chrono_literals;

/// Checks that `set` refuses what would rewind or break a consumer, and that --force sets it.
void cursor_values_must_be_event_ids(const std::string& store) {
  ASSERT_EQ(run({"cursors", "set", store, "billing", "10"}).status, 0);
  for (const std::string value : {"", "abc", "-1", "+5", " 11", "1e3", "12a"}) {
    const auto refused = run({"cursors", "set", store, "billing", value});
    EXPECT_EQ(refused.status, 2) << "'" << value << "': " << refused.err;
    EXPECT_EQ(lines(refused.err).size(), 1u) << refused.err;
    EXPECT_NE(refused.err.find("--force sets any value, \"\" (the beginning) included"),
              std::string::npos)
        << refused.err;
    EXPECT_EQ(run({"cursors", "get", store, "billing"}).out, "10\n") << "'" << value << "'";
  }
  EXPECT_NE(run({"cursors", "set", store, "billing", "abc"}).err.find("not an event id"),
            std::string::npos);
  EXPECT_NE(run({"cursors", "set", store, "billing", ""}).err.find("beginning"), std::string::npos);
  const auto back = run({"cursors", "set", store, "billing", "9"});
  EXPECT_EQ(back.status, 2) << back.err;
  EXPECT_NE(back.err.find("back from 10 to 9"), std::string::npos) << back.err;

  // --force sets anything, the beginning included; a number then replaces what is no number.
  EXPECT_EQ(run({"cursors", "set", store, "billing", "abc", "--force"}).status, 0);
  EXPECT_EQ(run({"cursors", "get", store, "billing"}).out, "abc\n");
  const auto numeric = run({"cursors", "set", store, "billing", "3"});
  EXPECT_EQ(numeric.status, 0) << numeric.err;
  EXPECT_EQ(run({"cursors", "get", store, "billing"}).out, "3\n");
  EXPECT_EQ(run({"cursors", "set", store, "billing", "", "--force"}).status, 0);
  const auto beginning = run({"cursors", "get", store, "billing"});
  EXPECT_EQ(beginning.status, 0) << "a cursor at the beginning exists: " << beginning.err;
  EXPECT_EQ(beginning.out, "\n");

  // A missing cursor is said, as delete says it.
  const auto missing = run({"cursors", "get", store, "nobody"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.out, "");
  EXPECT_EQ(missing.err, "reflexctl cursors: no cursor named 'nobody'\n");
  const auto no_value = run({"cursors", "set", store, "billing"});
  EXPECT_EQ(no_value.status, 2);
  EXPECT_NE(no_value.err.find("needs STORE, NAME and VALUE"), std::string::npos) << no_value.err;
}

TEST_F(Reflexctl, CursorsSetTakesOnlyEventIdsWithoutForceInAnSqlTable) {
  cursor_values_must_be_event_ids(store);
}

TEST(ReflexctlNats, CursorsSetTakesOnlyEventIdsWithoutForceInAKvBucket) {
  const std::string url = reflex_test::required_env("REFLEX_TEST_NATS_URL");
  const std::string bucket = reflex_test::unique_name("CTLSET");
  reflex::rnats::Connection conn({.url = url, .name = "reflexctl-test"});
  (void)reflex::rnats::StateStore::ensure(conn, {.name = bucket});
  cursor_values_must_be_event_ids(url + "?bucket=" + bucket);
  reflex::rnats::StateStore::remove(conn, bucket);
}

TEST_F(Reflexctl, NumbersAndDurationsOutOfRangeAreUsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"tail", source, "--lag", "9999999999999h"}, "--lag must be at most 100 years"},
      {{"tail", source, "--lag", "9223372036854775807ms"}, "--lag must be at most 100 years"},
      {{"tail", source, "--lag", "99999999999999999999s"}, "--lag must be at most 100 years"},
      {{"tail", source, "--lag", "876001h"}, "--lag must be at most 100 years"},
      {{"tail", source, "--types", "99999999999"}, "--types: needs a whole number from 1 to "},
      {{"tail", source, "--types", "1,2147483648"}, "--types: needs a whole number"},
      {{"tail", source, "--limit", "99999999999999999999"}, "--limit: needs a whole number"},
      {{"backfill", source, "--consumer", "c", "--cursors", store, "--batch", "-1", "--", "true"},
       "--batch: needs a whole number"},
      {{"backfill", source, "--consumer", "c", "--cursors", store, "--batch",
        "18446744073709551617", "--", "true"},
       "--batch: needs a whole number"},
      {{"backfill", source, "--consumer", "c", "--cursors", store, "--progress-every",
        "9999999999999h", "--", "true"},
       "--progress-every must be at most"},
      {{"publish", source, "--batch", "99999999999999999999"}, "--batch: needs a whole number"},
      {{"serve", "--listen", "127.0.0.1:4294967297", "--stream", "a=" + source},
       "the port must be a number from 1 to 65535"},
      {{"streams", "ensure", "nats://127.0.0.1:1?stream=S", "--max-event-size", "2147483648"},
       "--max-event-size: needs a whole number"},
      {{"streams", "ensure", "nats://127.0.0.1:1?stream=S", "--max-age", "9999999999999h"},
       "--max-age must be at most 100 years"},
  };
  for (const auto& c : cases) {
    const auto r = run(c.args);
    EXPECT_EQ(r.status, 2) << c.args[1] << ": " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
  }
  EXPECT_EQ(run({"tail", source, "--lag", "876000h", "--to-head"}).status, 0)
      << "100 years is fine";
}

TEST_F(Reflexctl, PublishNamesTheLineOfAnEventTheTableRefuses) {
  // 1 MiB of metadata is the table's limit; line 3 carries more. Batches of 2: line 3 is in the
  // second batch, with line 4.
  const std::string big(((1 << 20) + 3) / 3 * 4, 'A');
  const auto r = run({"publish", source, "--batch", "2"},
                     "{\"foreign_id\":\"1\",\"type\":1}\n{\"foreign_id\":\"2\",\"type\":1}\n"
                     "{\"foreign_id\":\"3\",\"type\":1,\"metadata\":\"" +
                         big + "\"}\n{\"foreign_id\":\"4\",\"type\":1}\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
  EXPECT_TRUE(r.err.starts_with("reflexctl publish: line 3: ")) << r.err;
  EXPECT_NE(r.err.find("(2 events written before it)"), std::string::npos) << r.err;
  EXPECT_EQ(lines(run({"tail", source, "--to-head"}).out).size(), 2u);
}

TEST_F(Reflexctl, ReadersOfAMissingSqliteFileLeaveNoFileBehind) {
  const std::string missing = (dir.path() / "typo.db").string();
  const std::string events = "sqlite://" + missing + "?table=events";
  const std::string cursors = "sqlite://" + missing + "?table=cursors";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"tail", events, "--to-head"},
        std::vector<std::string>{"cursors", "list", cursors},
        std::vector<std::string>{"cursors", "get", cursors, "billing"},
        std::vector<std::string>{"cursors", "set", cursors, "billing", "1"},
        std::vector<std::string>{"backfill", events, "--consumer", "c", "--cursors", store,
                                 "--to-head", "--", "true"}}) {
    const auto r = run(args);
    EXPECT_EQ(r.status, 2) << args[0] << ": " << r.err;
    EXPECT_NE(r.err.find("no SQLite database at '" + missing + "'"), std::string::npos)
        << args[0] << ": " << r.err;
    EXPECT_FALSE(std::filesystem::exists(missing)) << args[0] << " created " << missing;
  }
  // serve warns at start and creates nothing either.
  Background serve({"serve", "--listen", "127.0.0.1:0", "--stream", "typo=" + events});
  EXPECT_FALSE(serve.wait_for_err("warning: stream typo .* no SQLite database").empty())
      << serve.err();
  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait(10s), 0) << serve.err();
  EXPECT_FALSE(std::filesystem::exists(missing));
  // Writers may create it: publish (the table is missing then, which it says).
  EXPECT_EQ(run({"publish", events}, "{\"type\":1}\n").status, 2);
  EXPECT_TRUE(std::filesystem::exists(missing));
}

TEST_F(Reflexctl, GrpcLogsNothingOfItsOwnBeforeTheOneLineError) {
  // A TLS client against a plain server: gRPC core logs "E1201 … Handshake failed" by itself.
  Background server({"serve", "--listen", "127.0.0.1:0", "--stream", "events=" + source});
  const std::string port = server.wait_for_err("gRPC on 127\\.0\\.0\\.1:([0-9]+)");
  ASSERT_FALSE(port.empty()) << server.err();
  const auto tls = run({"tail", "grpcs://127.0.0.1:" + port, "--to-head", "--no-retry"});
  EXPECT_EQ(tls.status, 1) << tls.err;
  EXPECT_EQ(lines(tls.err).size(), 1u) << tls.err;
  EXPECT_TRUE(tls.err.starts_with("reflexctl tail: ")) << tls.err;
  EXPECT_NE(tls.err.find("handshake"), std::string::npos) << tls.err;
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(10s), 0) << server.err();
  for (const auto& line : lines(server.err())) {
    EXPECT_TRUE(line.starts_with("reflexctl serve: ")) << server.err();
  }
}

TEST_F(Reflexctl, AnEventReflexpbCannotCarryEndsATailOverGrpcNamingItInsteadOfHanging) {
  ASSERT_EQ(run({"publish", source}, "{\"foreign_id\":\"fine\",\"type\":1}\n").status, 0);
  // Written around reflex (its producers refuse it): \xC3 alone is no UTF-8.
  db->execute("INSERT INTO events (foreign_id, type) VALUES (CAST(X'C3' AS TEXT), 5)");
  Background server({"serve", "--listen", "127.0.0.1:0", "--stream", "events=" + source});
  const std::string port = server.wait_for_err("gRPC on 127\\.0\\.0\\.1:([0-9]+)");
  ASSERT_FALSE(port.empty()) << server.err();
  const auto started = std::chrono::steady_clock::now();
  Background tail({"tail", "grpc://127.0.0.1:" + port, "--to-head"});
  const int status = tail.wait(10s);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_NE(status, 0) << tail.err();
  EXPECT_NE(status, -1) << "it hangs: " << tail.err();
  EXPECT_EQ(lines(tail.out()).size(), 1u) << "the event before it is printed: " << tail.out();
  EXPECT_EQ(lines(tail.err()).size(), 1u) << tail.err();
  EXPECT_NE(tail.err().find("event 2"), std::string::npos) << tail.err();
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(10s), 0) << server.err();
  // Read from the table itself, it is printed, losslessly.
  const auto direct = run({"tail", source, "--to-head"});
  EXPECT_EQ(direct.status, 0) << direct.err;
  EXPECT_NE(direct.out.find("\"foreign_id_base64\":\"ww==\""), std::string::npos) << direct.out;
}

}  // namespace
