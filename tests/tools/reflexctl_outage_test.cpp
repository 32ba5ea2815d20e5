// reflexctl through outages: servers of the test's own are stopped and started under a running
// tail, relay and backfill. Each outage is one "is down" and one "is back" line, nothing is lost
// or doubled, and --no-retry ends at the first failure.

#include <nlohmann/json.hpp>

#include "reflex/rnats/rnats.hpp"
#include "reflex_test/services.hpp"
#include "reflexctl_harness.hpp"

namespace {

using namespace reflexctl_test;
using namespace std::chrono_literals;

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

/// Waits (bounded) until `done` holds; returns whether it did.
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds timeout = 15s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

/// JSON lines of events with foreign ids from..to.
std::string events(int from, int to) {
  std::string out;
  for (int i = from; i <= to; ++i)
    out += "{\"foreign_id\":\"" + std::to_string(i) + "\",\"type\":1}\n";
  return out;
}

/// The "id" of each JSON line.
std::vector<std::string> ids(const std::string& json_lines) {
  std::vector<std::string> out;
  for (const auto& line : lines(json_lines)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line)["id"].get<std::string>());
  }
  return out;
}

std::vector<std::string> one_to(int n) {
  std::vector<std::string> out;
  for (int i = 1; i <= n; ++i) out.push_back(std::to_string(i));
  return out;
}

std::string file_text(const std::string& path) {
  std::ifstream file(path);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

TEST(ReflexctlOutage, TailAndRelayRideOutAPostgresRestartLoggingItOnce) {
  reflex_test::OwnServices pg("postgres");
  const std::string dsn = pg.env("REFLEX_TEST_PG_DSN");
  ASSERT_FALSE(dsn.empty()) << "no REFLEX_TEST_PG_DSN in the services env file";
  reflex::rsql::Database::open(dsn)->create_events_table({.table = "events"});
  const std::string source = dsn + "?table=events";
  ASSERT_EQ(run({"publish", source, "--batch", "10"}, events(1, 3)).status, 0);

  const std::string url = reflex_test::required_env("REFLEX_TEST_NATS_URL");
  const std::string stream = reflex_test::unique_name("CTLOUT");
  reflex::rnats::Connection conn({.url = url, .name = "reflexctl-test"});
  const auto relayed = [&] {
    const auto info = reflex::rnats::stream_info(conn, stream);
    return info ? info->last_sequence : 0;
  };
  Background tail({"tail", source});
  Background fragile({"tail", source, "--no-retry"});
  Background relay({"relay", source, url + "?stream=" + stream + "&subject=" + stream + ".events",
                    "--consumer", "outbox", "--create-stream"});
  ASSERT_TRUE(eventually([&] { return lines(tail.out()).size() == 3 && relayed() == 3; }))
      << tail.err() << relay.err();

  pg.stop();
  EXPECT_EQ(fragile.wait(15s), 1) << "--no-retry ends at the first loss: " << fragile.err();
  EXPECT_EQ(lines(fragile.err()).size(), 1u) << fragile.err();
  EXPECT_TRUE(fragile.err().starts_with("reflexctl tail: ")) << fragile.err();
  EXPECT_FALSE(tail.wait_for_err("is down").empty()) << tail.err();
  EXPECT_FALSE(relay.wait_for_err("is down").empty()) << "the relay says nothing: " << relay.err();

  pg.start();
  ASSERT_EQ(run({"publish", source, "--batch", "10"}, events(4, 6)).status, 0);
  EXPECT_TRUE(eventually([&] { return lines(tail.out()).size() >= 6 && relayed() >= 6; }))
      << tail.err() << relay.err();
  // " is back after ", not "is back": the line that begins an outage ends "until it is back".
  EXPECT_FALSE(tail.wait_for_err(" is back after ").empty()) << tail.err();
  // The relay is stopped as soon as its events are in, without waiting for its log: a relay
  // stopped right after events flow again still logs the end of the outage (checked below).
  tail.signal(SIGTERM);
  relay.signal(SIGTERM);
  EXPECT_EQ(tail.wait(10s), 0) << tail.err();
  EXPECT_EQ(relay.wait(10s), 0) << relay.err();

  EXPECT_EQ(ids(tail.out()), one_to(6)) << "every event once across the outage";
  EXPECT_EQ(relayed(), 6u);
  for (Background* process : {&tail, &relay}) {
    const std::string err = process->err();
    EXPECT_EQ(count(err, " is down ("), 1u) << err;
    EXPECT_EQ(count(err, " is back after "), 1u) << err;
    EXPECT_NE(err.find("source postgresql://postgres@127.0.0.1:"), std::string::npos) << err;
  }
  reflex::rnats::delete_stream(conn, stream);
}

TEST_F(Reflexctl, BackfillRidesOutANatsRestartUnderItsKvCursorsAndBlamesTheStoreNotTheConsumer) {
  reflex_test::OwnServices nats("nats");
  const std::string url = nats.env("REFLEX_TEST_NATS_URL");
  ASSERT_FALSE(url.empty()) << "no REFLEX_TEST_NATS_URL in the services env file";
  const std::string store = url + "?bucket=cursors";
  ASSERT_EQ(run({"publish", source, "--batch", "100"}, events(1, 30)).status, 0);
  const std::string seen = (dir.path() / "seen").string();
  Background backfill({"backfill", source, "--consumer", "mailer", "--cursors", store, "--to-head",
                       "--", "sh", "-c", "cat >> " + seen + "; sleep 0.05"});
  ASSERT_TRUE(eventually([&] { return lines(file_text(seen)).size() >= 3; })) << backfill.err();
  nats.stop();
  // Longer than a request to NATS waits (5 s): nats.c buffers what is sent meanwhile, so a
  // shorter outage is one the job never notices.
  std::this_thread::sleep_for(5500ms);
  nats.start();
  EXPECT_EQ(backfill.wait(30s), 0) << backfill.err();
  const std::string err = backfill.err();
  EXPECT_EQ(count(err, "reflexctl backfill: cursor store " + store + " is down ("), 1u) << err;
  EXPECT_EQ(count(err, " is down ("), 1u) << err;
  EXPECT_EQ(count(err, " is back after "), 1u) << err;
  EXPECT_EQ(err.find("consumer \""), std::string::npos) << "blames the consumer: " << err;
  EXPECT_NE(err.find("30 events in"), std::string::npos) << err;
  EXPECT_NE(err.find("reached the head"), std::string::npos) << err;
  // The cursor whose write failed was kept, so the job went on after it: every event once.
  EXPECT_EQ(ids(file_text(seen)), one_to(30)) << err;
}

TEST_F(Reflexctl, AKvCursorWriteThatFailsUnderABackfillIsTheStoresFailureNotTheConsumers) {
  const std::string url = reflex_test::required_env("REFLEX_TEST_NATS_URL");
  const std::string bucket = reflex_test::unique_name("CTLGONE");
  const std::string store = url + "?bucket=" + bucket;
  ASSERT_EQ(run({"publish", source, "--batch", "100"}, events(1, 30)).status, 0);
  const std::string seen = (dir.path() / "seen").string();
  Background backfill({"backfill", source, "--consumer", "mailer", "--cursors", store, "--to-head",
                       "--no-retry", "--", "sh", "-c", "cat >> " + seen + "; sleep 0.05"});
  ASSERT_TRUE(eventually([&] { return lines(file_text(seen)).size() >= 3; })) << backfill.err();
  reflex::rnats::Connection conn({.url = url, .name = "reflexctl-test"});
  ASSERT_TRUE(reflex::rnats::StateStore::remove(conn, bucket));  // the next cursor write fails
  EXPECT_EQ(backfill.wait(15s), 1) << backfill.err();
  const std::string err = backfill.err();
  EXPECT_EQ(lines(err).size(), 1u) << err;
  EXPECT_TRUE(err.starts_with("reflexctl backfill: cursor store " + store + ": ")) << err;
  EXPECT_EQ(err.find("consumer \""), std::string::npos) << "blames the consumer: " << err;
}

}  // namespace
