// The outbox relay survives being killed: an SQL outbox is relayed into JetStream by a relay
// process that is SIGKILLed again and again while writers insert events; afterwards the stream
// holds every committed event exactly once, in order.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <random>
#include <thread>

#include "nats_test.hpp"
#include "reflex/rnats/rnats.hpp"
#include "reflex/rsql/rsql.hpp"
#include "reflex/rsql/sqlite.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/process.hpp"
#include "reflex_test/streams.hpp"

namespace {

using namespace std::chrono_literals;
namespace rnats = reflex::rnats;

TEST(RelayKill, AKilledAndRestartedRelayLosesAndDuplicatesNothing) {
  reflex_test::TempDir dir;
  const std::string path = (dir.path() / "outbox.db").string();
  auto db = reflex::rsql::Database::open("sqlite://" + path);
  db->create_events_table({.table = "outbox"});
  reflex::rsql::EventsTable table(db, {.schema = {.table = "outbox"}});
  auto conn = rnats_test::connect();
  rnats_test::TempStream stream(conn, {.storage = rnats::Storage::file});

  constexpr int kEvents = 400;
  std::jthread writer([&] {
    sqlite3* app = nullptr;
    sqlite3_open(path.c_str(), &app);
    sqlite3_busy_timeout(app, 5000);
    for (int i = 1; i <= kEvents; ++i) {
      sqlite3_exec(app, "BEGIN", nullptr, nullptr, nullptr);
      (void)table.insert(app, reflex::rsql::NewEvent{
                                  .foreign_id = i, .type = 1, .metadata = "e" + std::to_string(i)});
      sqlite3_exec(app, "COMMIT", nullptr, nullptr, nullptr);
      std::this_thread::sleep_for(5ms);  // writes go on while relays are killed
    }
    sqlite3_close(app);
  });

  const std::vector<std::string> args = {
      RNATS_RELAY_PROC, path,
      "outbox",         reflex_test::required_env("REFLEX_TEST_NATS_URL"),
      stream.name(),    stream.subject("events")};
  std::mt19937 rng(42);
  for (int round = 0; round < 8; ++round) {
    reflex_test::Process relay(args);
    // The kill comes at a random moment of the relay's work: that is what is tested.
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 300)(rng)));
    relay.kill();
  }
  writer.join();
  reflex_test::Process last(args);
  auto info = [&] {
    const auto s = rnats::stream_info(conn, stream.name());
    return s ? s->messages : 0;
  };
  EXPECT_TRUE(rnats_test::eventually([&] { return info() >= kEvents; }, 20s))
      << info() << " messages; the relay said: " << last.err();
  std::this_thread::sleep_for(200ms);  // a duplicate would show up now
  last.kill();

  // Read the stream back: event ids 1..kEvents, each once, in order, with their data.
  const auto got = reflex_test::read_to_head(rnats::stream_func(conn, {.stream = stream.name()}));
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_EQ(got[static_cast<std::size_t>(i)].foreign_id, std::to_string(i + 1));
    ASSERT_EQ(got[static_cast<std::size_t>(i)].metadata, "e" + std::to_string(i + 1));
  }
}

}  // namespace
