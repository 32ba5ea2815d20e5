// A nats-server of our own (scripts/services in a temp dir) restarted under running subscriptions,
// sources, relays and watches: each must carry on by itself, losing and duplicating nothing.

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "nats_test.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"
#include "reflex_test/services.hpp"
#include "reflex_test/streams.hpp"

namespace {

using namespace std::chrono_literals;
namespace rnats = reflex::rnats;

TEST(ServerRestart, SubscriptionsSourcesRelaysAndWatchesCarryOn) {
  // A nats-server of this test's own: it is restarted, keeping its port and storage.
  reflex_test::OwnServices server("nats");
  const std::string url = server.env("REFLEX_TEST_NATS_URL");
  ASSERT_FALSE(url.empty());
  rnats::Connection conn(rnats::ConnectOptions{
      .url = url, .reconnect_wait = 50ms, .max_reconnect_wait = 200ms, .request_timeout = 2s});
  const std::string name = "RESTART";
  rnats::ensure_stream(conn,
                       {.name = name, .subjects = {"restart.>"}, .storage = rnats::Storage::file});
  rnats::ensure_stream(
      conn, {.name = "RELAYED", .subjects = {"relayed.>"}, .storage = rnats::Storage::file});
  rnats::ensure_consumer(conn, {.stream = name, .name = "durable", .processing_timeout = 2s});
  rnats::ensure_consumer(
      conn, {.stream = name, .name = "pulled", .processing_timeout = 2s, .pull = true});
  auto kv = rnats::StateStore::ensure(conn, {.name = "state", .storage = rnats::Storage::file});

  // 1. A durable subscription.
  rnats::Subscription sub(conn, name, "durable");
  std::mutex mu;
  std::vector<std::string> subscribed;
  std::jthread subscriber([&](std::stop_token stop) {
    while (!stop.stop_requested()) {
      try {
        auto d = sub.next(stop, 100ms);
        if (!d) continue;
        {
          std::lock_guard lock(mu);
          subscribed.push_back(d->data());
        }
        d->ack();
      } catch (const reflex::Error&) {
        // An ack lost in the restart: the event is redelivered.
      }
    }
  });
  // 1b. A subscription to a pull consumer (its pull requests die with the server).
  rnats::Subscription pull_sub(conn, name, "pulled");
  std::vector<std::string> pulled;
  std::jthread puller([&](std::stop_token stop) {
    while (!stop.stop_requested()) {
      try {
        auto d = pull_sub.next(stop, 100ms);
        if (!d) continue;
        {
          std::lock_guard lock(mu);
          pulled.push_back(d->data());
        }
        d->ack();
      } catch (const reflex::Error&) {
      }
    }
  });
  // 2. An ordered-consumer source.
  std::vector<std::string> sourced;
  std::jthread reader([&](std::stop_token stop) {
    auto client = rnats::stream_func(conn, {.stream = name, .heartbeat = 500ms})(stop, "", {});
    try {
      for (;;) {
        auto e = client->recv();
        std::lock_guard lock(mu);
        sourced.push_back(e.metadata);
      }
    } catch (const reflex::Canceled&) {
    }
  });
  // 3. A relay.
  reflex::MemLog log;
  rnats::Relay relay(conn, {.name = "r",
                            .source = log.stream_func(),
                            .stream = "RELAYED",
                            .subject = "relayed.x",
                            .ack_timeout = 1s,
                            .retry_backoff = 50ms,
                            .max_retry_backoff = 300ms});
  rnats_test::RunningRelay relaying(relay);
  // 4. A watch.
  std::vector<std::string> watched;
  auto watch = kv.watch(">", [&](const rnats::Change& c) {
    std::lock_guard lock(mu);
    watched.push_back(c.entry.value);
  });
  ASSERT_TRUE(watch.wait_caught_up({}, 5s));

  const auto publish_batch = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      rnats::publish(conn, {.subject = "restart.x", .data = std::to_string(i)});
      log.append(1, "f", std::to_string(i));
      kv.put("k", std::to_string(i));
    }
  };
  const auto count = [&](const std::vector<std::string>& v) {
    std::lock_guard lock(mu);
    return v.size();
  };
  publish_batch(0, 20);
  ASSERT_TRUE(rnats_test::eventually([&] {
    return count(subscribed) >= 20 && count(pulled) >= 20 && count(sourced) >= 20 &&
           relay.stats().acknowledged >= 20 && count(watched) >= 20;
  }));

  server.stop();
  server.start();
  EXPECT_EQ(server.env("REFLEX_TEST_NATS_URL"), url)
      << "the restarted server moved to another port";
  ASSERT_TRUE(rnats_test::eventually([&] { return conn.connected(); }, 10s));
  EXPECT_GE(conn.reconnects(), 1u);
  // Publishing may need a moment while JetStream recovers its streams.
  ASSERT_TRUE(rnats_test::eventually(
      [&] {
        try {
          return rnats::stream_info(conn, name).has_value();
        } catch (const reflex::Error&) {
          return false;
        }
      },
      10s));
  publish_batch(20, 40);

  // A watch of a bucket that keeps one revision per key sees the latest value, not every
  // revision: one overwritten while the watch re-subscribed after the restart is gone from the
  // server. So the watch is waited on for the last value.
  const auto watched_last = [&] {
    std::lock_guard lock(mu);
    return watched.empty() ? std::string() : watched.back();
  };
  const bool all = rnats_test::eventually(
      [&] {
        return count(subscribed) >= 40 && count(pulled) >= 40 && count(sourced) >= 40 &&
               relay.stats().acknowledged >= 40 && watched_last() == "39";
      },
      30s);
  EXPECT_TRUE(all) << "subscribed " << count(subscribed) << ", pulled " << count(pulled)
                   << ", sourced " << count(sourced) << ", relayed " << relay.stats().acknowledged
                   << ", watched " << count(watched);
  std::this_thread::sleep_for(300ms);  // a duplicate (checked below) would show up now
  subscriber.request_stop();
  puller.request_stop();
  reader.request_stop();
  subscriber.join();
  puller.join();
  reader.join();
  relaying.stop();
  watch.stop();
  EXPECT_EQ(relaying.error(), nullptr);

  std::lock_guard lock(mu);
  // The source delivers in order, without gaps or duplicates.
  ASSERT_EQ(sourced.size(), 40u);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(sourced[static_cast<std::size_t>(i)], std::to_string(i));
  // The durable subscription saw every event (an ack lost in the restart may redeliver one).
  EXPECT_EQ(std::set<std::string>(subscribed.begin(), subscribed.end()).size(), 40u);
  EXPECT_EQ(std::set<std::string>(pulled.begin(), pulled.end()).size(), 40u);
  // The watch saw the last value, and every value it saw in the order they were written.
  EXPECT_EQ(watched.back(), "39");
  for (std::size_t i = 1; i < watched.size(); ++i) {
    EXPECT_LT(std::stoi(watched[i - 1]), std::stoi(watched[i])) << "watch out of order at " << i;
  }
  // The relayed stream holds every event exactly once, in order.
  std::vector<std::string> stored;
  for (const auto& e : reflex_test::read_to_head(rnats::stream_func(conn, {.stream = "RELAYED"}))) {
    stored.push_back(e.metadata);
  }
  ASSERT_EQ(stored.size(), 40u);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(stored[static_cast<std::size_t>(i)], std::to_string(i));
}

}  // namespace
