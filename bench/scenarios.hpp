#pragma once
// The scenario groups of reflex_bench; each appends its rows.

#include <string>
#include <vector>

#include "harness.hpp"

namespace bench {

/// P1–P5: what the outbox costs a producer's transactions (PostgreSQL and MariaDB).
void producer_scenarios(const Config& config, std::vector<Row>& rows);
/// S1, S2, M1, MEM: catch-up streaming against keyset scans with the bare client libraries.
void stream_scenarios(const Config& config, std::vector<Row>& rows);
/// S3, L1 (direct, gRPC, JetStream), L2, I1: streams at the head.
void head_scenarios(const Config& config, std::vector<Row>& rows);
/// G1, R1: the transports against bare gRPC and bare nats.c.
void transport_scenarios(const Config& config, std::vector<Row>& rows);
/// L3, L4, F1: commit → consumer in another process (relay + JetStream, PG notify) and
/// reflexctl serve with 100 gRPC followers.
void latency_scenarios(const Config& config, std::vector<Row>& rows);
/// X1: a PG consumer with exactly-once effects (transactional cursor) against a buffered cursor.
void exactly_once_scenarios(const Config& config, std::vector<Row>& rows);
/// W1, W2: rwindshift's EventsService (publish, consume) against bare nats.c.
void windshift_scenarios(const Config& config, std::vector<Row>& rows);

/// E1, E2: rstate's Entities::set and stategate's EntityService/Set over gRPC against the same
/// upsert and event INSERT hand-written in one libpqxx transaction.
void entities_scenarios(const Config& config, std::vector<Row>& rows);

/// X2: a consumer shared by processes (run_shared) against one process and a plain consumer.
void shared_scenarios(const Config& config, std::vector<Row>& rows);

/// The X1 child: member `member` of the shared consumer "bench" over `events` with `shards`
/// shards, until SIGTERM; prints how many events it consumed.
int shared_child(const std::string& dsn, const std::string& events, const std::string& table,
                 const std::string& members, int shards, const std::string& member);

/// The L3/L4 child: streams `count` events from JetStream stream `name` (`kind` "nats", `where`
/// the server's URL) or from events table `name` (`kind` "pg", `where` the DSN); prints "ready"
/// once the stream is open, then one "<foreign id> <steady_clock ns>" line per event received.
int latency_child(const std::string& kind, const std::string& where, const std::string& name,
                  int count);

/// The MEM child: streams `events` events of the S1 table and prints its peak RSS in KiB.
int mem_child(const std::string& dsn, const std::string& table, long events);

/// A fresh, empty PostgreSQL events table "<prefix>_<pid>_<n>" for one run.
std::string fresh_table(const Config& config, const std::string& prefix);

/// Creates (once) and fills an events table with `count` events of 64-byte metadata; returns
/// its name.
std::string ensure_pg_stream_table(const Config& config, long count);

}  // namespace bench
