// A 3-node JetStream cluster of the test's own (scripts/services start nats-cluster): streams and
// KV buckets with 3 replicas, and the relay, a JetStream source with its KV cursors and a durable
// consumer carrying on while the stream's leader is SIGKILLed and comes back. Nothing lost,
// nothing duplicated, order kept.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "nats_test.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"
#include "reflex/run.hpp"
#include "reflex_test/services.hpp"

namespace {

using namespace std::chrono_literals;
namespace rnats = reflex::rnats;

/// The cluster, and a client of all three nodes that rides out a node's death quickly.
struct Cluster {
  reflex_test::OwnServices servers{"nats-cluster"};
  std::string url = servers.env("REFLEX_TEST_NATS_CLUSTER_URL");
  rnats::Connection connect() const {
    return rnats::Connection(rnats::ConnectOptions{.url = url,
                                                   .reconnect_wait = 50ms,
                                                   .max_reconnect_wait = 200ms,
                                                   .request_timeout = 2s,
                                                   .retry_on_failed_connect = true});
  }
  /// The node whose client URL is `url` ("n1"…), "" when none.
  std::string node_of(const std::string& client_url) const {
    for (const char* n : {"N1", "N2", "N3"}) {
      if (servers.env(std::string("REFLEX_TEST_NATS_") + n + "_URL") == client_url) {
        std::string name(n);
        name[0] = 'n';
        return name;
      }
    }
    return "";
  }
};

/// Retries a JetStream request while the cluster elects leaders (a few seconds at most).
template <class F>
auto with_retries(F&& f) {
  for (int attempt = 0;; ++attempt) {
    try {
      return f();
    } catch (const reflex::Error& e) {
      if (attempt >= 100) throw;
      std::this_thread::sleep_for(100ms);
    }
  }
}

TEST(JetStreamCluster, StreamsAndBucketsKeepThreeReplicasOnDistinctNodes) {
  Cluster cluster;
  ASSERT_FALSE(cluster.url.empty());
  auto conn = cluster.connect();
  const auto info = with_retries([&] {
    return rnats::ensure_stream(conn, {.name = "R3", .subjects = {"r3.>"}, .replicas = 3});
  });
  EXPECT_EQ(info.config.replicas, 3);
  auto state = with_retries([&] { return rnats::stream_info(conn, "R3"); });
  ASSERT_TRUE(state.has_value());
  EXPECT_FALSE(state->leader.empty());
  ASSERT_EQ(state->replicas.size(), 2u) << "a leader and two followers";
  std::set<std::string> nodes(state->replicas.begin(), state->replicas.end());
  nodes.insert(state->leader);
  EXPECT_EQ(nodes, (std::set<std::string>{"n1", "n2", "n3"}));

  auto kv = with_retries(
      [&] { return rnats::StateStore::ensure(conn, {.name = "r3state", .replicas = 3}); });
  kv.put("k", "v");
  EXPECT_EQ(kv.get("k")->value, "v");
}

TEST(JetStreamCluster, RelaySourceAndDurableConsumerCarryOnWhenTheStreamLeaderIsKilled) {
  Cluster cluster;
  auto conn = cluster.connect();
  with_retries([&] {
    return rnats::ensure_stream(conn, {.name = "EVENTS", .subjects = {"events.>"}, .replicas = 3});
  });
  with_retries([&] {
    return rnats::ensure_consumer(
        conn, {.stream = "EVENTS", .name = "durable", .processing_timeout = 2s});
  });
  auto cursors_bucket = with_retries(
      [&] { return rnats::StateStore::ensure(conn, {.name = "cursors", .replicas = 3}); });

  // 1. The relay, from an outbox (any reflex source) into the replicated stream.
  constexpr int kEvents = 600;
  reflex::MemLog outbox;
  rnats::Relay relay(conn, {.name = "outbox",
                            .source = outbox.stream_func(),
                            .stream = "EVENTS",
                            .subject = "events.x",
                            .ack_timeout = 1s,
                            .retry_backoff = 50ms,
                            .max_retry_backoff = 300ms});
  rnats_test::RunningRelay relaying(relay);

  std::mutex mu;
  // 2. A JetStream source whose cursor is in the replicated bucket, restarted after failures.
  std::vector<std::string> sourced;
  auto cursors = std::make_shared<rnats::KvCursorStore>(
      cursors_bucket, rnats::KvCursorStoreOptions{.flush_interval = 100ms});
  auto consumer = reflex::make_consumer("sourced", [&](const reflex::Event& e) {
    std::lock_guard lock(mu);
    sourced.push_back(e.metadata);
  });
  std::jthread source_runner([&](std::stop_token stop) {
    const reflex::Spec spec{
        .stream = rnats::stream_func(conn, {.stream = "EVENTS", .heartbeat = 500ms}),
        .cursors = cursors,
        .consumer = consumer};
    while (!stop.stop_requested()) {
      try {
        reflex::run(stop, spec);
      } catch (const reflex::Error&) {
        std::this_thread::sleep_for(100ms);  // the cluster moves the leader: run again
      }
    }
  });
  // 3. A durable consumer acknowledging each event.
  std::vector<std::string> durable;
  std::jthread subscriber([&](std::stop_token stop) {
    std::optional<rnats::Subscription> sub;
    while (!stop.stop_requested()) {
      try {
        if (!sub) sub.emplace(conn, "EVENTS", "durable");
        auto d = sub->next(stop, 100ms);
        if (!d) continue;
        {
          std::lock_guard lock(mu);
          durable.push_back(d->data());
        }
        d->ack();
      } catch (const reflex::Error&) {
        // An ack lost in the failover: the event comes again.
        std::this_thread::sleep_for(50ms);
      }
    }
  });

  const auto produce = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      outbox.append(1, "e" + std::to_string(i), "e" + std::to_string(i));
      std::this_thread::sleep_for(2ms);
    }
  };
  produce(0, kEvents / 3);
  const auto before = with_retries([&] { return rnats::stream_info(conn, "EVENTS"); });
  ASSERT_TRUE(before && !before->leader.empty());
  cluster.servers.kill_node(before->leader);
  produce(kEvents / 3, kEvents / 2);  // while the cluster elects a new leader
  // The node stays away until another one leads the stream (the election takes a few seconds),
  // so the relay, the source and the consumer really move to a new leader.
  EXPECT_TRUE(rnats_test::eventually(
      [&] {
        try {
          const auto now = rnats::stream_info(conn, "EVENTS");
          return now && !now->leader.empty() && now->leader != before->leader;
        } catch (const reflex::Error&) {
          return false;
        }
      },
      30s))
      << "no new leader for the stream";
  produce(kEvents / 2, 2 * kEvents / 3);
  cluster.servers.start();  // the killed node comes back
  produce(2 * kEvents / 3, kEvents);

  std::vector<std::string> expected;
  for (int i = 0; i < kEvents; ++i) expected.push_back("e" + std::to_string(i));
  const auto caught_up = [&] {
    std::lock_guard lock(mu);
    return sourced.size() >= expected.size() &&
           std::set<std::string>(durable.begin(), durable.end()).size() >= expected.size();
  };
  EXPECT_TRUE(rnats_test::eventually(caught_up, 60s));
  source_runner.request_stop();
  subscriber.request_stop();
  source_runner.join();
  subscriber.join();
  relaying.stop();
  EXPECT_EQ(relaying.error(), nullptr);

  const auto after = rnats::stream_info(conn, "EVENTS");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->messages, static_cast<std::uint64_t>(kEvents)) << "the stream lost or "
                                                                     "duplicated events";
  std::lock_guard lock(mu);
  const auto first_difference = [&](const std::vector<std::string>& got) {
    std::size_t i = 0;
    while (i < got.size() && i < expected.size() && got[i] == expected[i]) ++i;
    return "got " + std::to_string(got.size()) + " of " + std::to_string(expected.size()) +
           ", first difference at " + std::to_string(i) + ": " +
           (i < got.size() ? got[i] : std::string("(end)"));
  };
  EXPECT_EQ(sourced, expected) << "the source lost, duplicated or reordered events: "
                               << first_difference(sourced);
  // The durable consumer: every event, first seen in order; a repeat only of an event whose ack
  // was lost, right after its first delivery's neighbourhood.
  std::vector<std::string> first_seen;
  std::set<std::string> seen;
  for (const auto& d : durable) {
    if (seen.insert(d).second) first_seen.push_back(d);
  }
  EXPECT_EQ(first_seen, expected) << "the durable consumer lost or reordered events: "
                                  << first_difference(first_seen);
}

TEST(JetStreamCluster, AClientOfAKilledNodeReconnectsToAnother) {
  Cluster cluster;
  auto conn = cluster.connect();
  with_retries([&] {
    return rnats::ensure_stream(conn, {.name = "PINGS", .subjects = {"pings.>"}, .replicas = 3});
  });
  ASSERT_TRUE(rnats_test::eventually([&] { return conn.connected(); }, 5s));
  // The stream has its leader and both followers before a node dies: on a cluster started a
  // moment ago, a kill before the followers joined leaves the stream without a quorum for long.
  const auto led = [&](std::size_t followers, const std::string& not_by) {
    try {
      const auto s = rnats::stream_info(conn, "PINGS");
      return s && !s->leader.empty() && s->leader != not_by && s->replicas.size() >= followers;
    } catch (const reflex::Error&) {
      return false;
    }
  };
  ASSERT_TRUE(rnats_test::eventually([&] { return led(2, ""); }, 30s));
  const std::string was = conn.connected_url();
  const std::string node = cluster.node_of(was);
  ASSERT_FALSE(node.empty()) << "connected to " << was;
  cluster.servers.kill_node(node);
  ASSERT_TRUE(
      rnats_test::eventually([&] { return conn.connected() && conn.connected_url() != was; }, 10s))
      << "still not connected elsewhere than " << was;
  // If the killed node led the stream, the other two elect a leader first (a few seconds).
  ASSERT_TRUE(rnats_test::eventually([&] { return led(0, node); }, 30s))
      << "no leader for the stream but on the killed node " << node;
  const auto ack =
      with_retries([&] { return rnats::publish(conn, {.subject = "pings.x", .data = "after"}); });
  EXPECT_GT(ack.sequence, 0u);
  EXPECT_GE(conn.reconnects(), 1u);
}

}  // namespace
