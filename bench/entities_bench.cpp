// E1, E2: reflex::rstate's Entities::set (the entity's row and its event in one transaction)
// against the same two statements hand-written in one libpqxx transaction, on the same tables
// (entities_ddl, so the same indexes); E2 the same set through stategate.EntityService/Set over
// gRPC on loopback (the service reflexd hosts) against that hand-written transaction in-process,
// and against the same transaction behind the generated service (its floor: the gRPC hop).
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "hosted_service.hpp"
#include "reflex/rsql/rsql.hpp"
#include "reflex/rstate/entities.hpp"
#include "reflex/rstate/schema.hpp"
#include "reflex/rstategate/entity_service.hpp"
#include "reflex/rstategate/identity.hpp"
#include "reflex/uuid.hpp"
#include "scenarios.hpp"
#include "stategate/schema.grpc.pb.h"

namespace bench {
namespace {

using namespace std::chrono_literals;
using reflex::rsql::Database;
using reflex::rstate::Entities;
using reflex::rstate::EntityRef;

constexpr const char* kEntities = "bench_entities";
constexpr const char* kEntityEvents = "bench_entity_events";
constexpr const char* kDomain = "shop";
constexpr const char* kType = "order";
/// Keys every variant updates, the same rows on each side (none is created during a round).
constexpr int kKeys = 1000;
/// The values of every set: a small order, 78 bytes of JSON, in the compact form with sorted
/// keys that rstate stores (so both sides write the same bytes).
constexpr const char* kValues =
    R"({"currency":"EUR","customer":"c-1042","items":3,"status":"paid","total":129.9})";

std::string key_of(int i) {
  return "order-" + std::to_string(i);
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Fresh tables from entities_ddl (so rstate's indexes), every key created once.
void setup_tables(const Config& cfg) {
  {
    pqxx::connection c(cfg.pg_dsn);
    pqxx::work w(c);
    w.exec0(std::string("DROP TABLE IF EXISTS ") + kEntities + ", " + kEntityEvents);
    w.commit();
  }
  const auto db = Database::open(cfg.pg_dsn);
  db->execute(
      reflex::rstate::entities_ddl(reflex::rsql::Dialect::postgres,
                                   {.entities_table = kEntities, .events_table = kEntityEvents}));
  const Entities entities(db,
                          {.schema = {.entities_table = kEntities, .events_table = kEntityEvents}});
  for (int i = 0; i < kKeys; ++i) (void)entities.set({kDomain, kType, key_of(i)}, kValues);
}

/// The hand-written transaction: what Entities::set writes on PostgreSQL (rstate/src/
/// statements.cpp), as prepared statements on one connection: the upsert of the row, returning
/// its version, then the event row with the same columns (its metadata the same event JSON,
/// built by concatenation: the names and values are known to need no escaping), in one
/// transaction committed like rstate's.
struct RawClient {
  explicit RawClient(const std::string& dsn) : conn(dsn) {
    conn.prepare("e_upsert", std::string("INSERT INTO ") + kEntities +
                                 R"( ("domain", "type", "key", "values", "version", "updated"))"
                                 " VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT "
                                 R"(("domain", "type", "key") DO UPDATE SET "values" = )"
                                 R"(EXCLUDED."values", "version" = )" +
                                 kEntities +
                                 R"(."version" + 1, "updated" = EXCLUDED."updated")"
                                 R"( RETURNING "version")");
    conn.prepare("e_event",
                 std::string("INSERT INTO ") + kEntityEvents +
                     R"( ("foreign_id", "type", "metadata", "event_uuid", "entity_domain", )"
                     R"("entity_type", "entity_key", "entity_values", "method", "claims", )"
                     R"("time_ns") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) )"
                     R"(RETURNING "id")");
  }

  /// One set of `key` to `values` (compact JSON) in its own transaction; the method is recorded
  /// as `method`.
  void set(const std::string& key, const std::string& method, const std::string& values = kValues) {
    const std::int64_t now = now_ns();
    const std::string uuid = reflex::random_uuid();
    std::string metadata;
    metadata.reserve(256);
    metadata += R"({"id":")";
    metadata += uuid;
    metadata += R"(","method":")";
    metadata += method;
    metadata += R"(","time":")";
    metadata += std::to_string(now);
    metadata += R"(","entity":{"domain":")";
    metadata += kDomain;
    metadata += R"(","type":")";
    metadata += kType;
    metadata += R"(","key":")";
    metadata += key;
    metadata += R"(","values":)";
    metadata += values;
    metadata += R"(},"claims":{}})";
    const std::string fid = std::string(kDomain) + "/" + kType + "/" + key;
    pqxx::work w(conn);
    const auto version = w.exec_prepared1("e_upsert", kDomain, kType, key, values, now);
    (void)version[0].as<std::int64_t>();
    const pqxx::binarystring bytes(metadata);
    const auto id = w.exec_prepared1("e_event", fid, 1, bytes, uuid, kDomain, kType, key, values,
                                     method, "{}", now);
    (void)id[0].as<std::int64_t>();
    w.commit();
  }

  pqxx::connection conn;
  std::uint64_t n = 0;
};

/// The key a client sets next: clients take disjoint keys (kKeys is a multiple of every client
/// count used), so no set waits for another's row lock.
std::string next_key(std::uint64_t& n, int client, int clients) {
  const auto i = static_cast<int>(
      (n++ * static_cast<std::uint64_t>(clients) + static_cast<std::uint64_t>(client)) % kKeys);
  return key_of(i);
}

struct RawClients {
  RawClients(const std::string& dsn, int count) {
    for (int i = 0; i < count; ++i) clients.push_back(std::make_unique<RawClient>(dsn));
  }
  double run(std::chrono::milliseconds window, const std::string& method) {
    const int count = static_cast<int>(clients.size());
    return throughput(count, window, [&](int t) -> std::uint64_t {
      auto& c = *clients[static_cast<std::size_t>(t)];
      c.set(next_key(c.n, t, count), method);
      return 1;
    });
  }
  std::vector<std::unique_ptr<RawClient>> clients;
};

/// E2's floor: the generated stategate.EntityService with a Set of the least any such service
/// does, the values' Struct printed as JSON by protobuf and the hand-written transaction, on a
/// connection of a pool (one per client, as the clients are). What the gRPC hop costs on top of
/// the transaction, so that E2 against it is what reflexd's service adds.
class HandwrittenSet final : public stategate::EntityService::Service {
 public:
  HandwrittenSet(const std::string& dsn, int connections) : pool_(dsn, connections) {
    for (auto& c : pool_.clients) idle_.push_back(c.get());
  }
  HandwrittenSet* service() { return this; }
  void shutdown() {}
  grpc::Status Set(grpc::ServerContext*, const stategate::Entity* req,
                   google::protobuf::Empty*) override {
    std::string values;
    if (!google::protobuf::util::MessageToJsonString(req->values(), &values).ok()) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "values are not JSON"};
    }
    RawClient* client = nullptr;
    {
      std::unique_lock lock(mu_);
      free_.wait(lock, [&] { return !idle_.empty(); });
      client = idle_.back();
      idle_.pop_back();
    }
    try {
      client->set(req->key(), "/stategate.EntityService/Set", values);
    } catch (const std::exception& e) {
      give_back(client);
      return {grpc::StatusCode::INTERNAL, e.what()};
    }
    give_back(client);
    return grpc::Status::OK;
  }

 private:
  void give_back(RawClient* client) {
    {
      const std::lock_guard lock(mu_);
      idle_.push_back(client);
    }
    free_.notify_one();
  }

  RawClients pool_;
  std::mutex mu_;
  std::condition_variable free_;
  std::vector<RawClient*> idle_;
};

/// A stream of the entity events on a table object of its own (as a consumer in another process
/// would follow them), on a thread: it makes rsql's notifier announce each commit.
class Follower {
 public:
  explicit Follower(const std::string& dsn)
      : table_(Database::open(dsn), {.schema = {.table = kEntityEvents}}) {
    thread_ = std::jthread([this](std::stop_token stop) {
      auto stream = table_.stream(stop, "");
      try {
        for (;;) (void)stream->recv();
      } catch (const reflex::Canceled&) {
      }
    });
  }

 private:
  reflex::rsql::EventsTable table_;
  std::jthread thread_;
};

void e1(const Config& cfg, std::vector<Row>& rows) {
  if (!cfg.wants("E1")) return;
  const Entities entities(Database::open(cfg.pg_dsn),
                          {.schema = {.entities_table = kEntities, .events_table = kEntityEvents}});
  struct Case {
    int clients;
    bool followed;  // another table object streams the events: reported, not a goal
  };
  for (const Case c : {Case{1, false}, Case{4, false}, Case{1, true}}) {
    const int clients = c.clients;
    log("E1 " + std::to_string(clients) + " client(s)" + (c.followed ? ", followed" : ""));
    std::unique_ptr<Follower> follower;
    if (c.followed) {
      follower = std::make_unique<Follower>(cfg.pg_dsn);
      std::this_thread::sleep_for(500ms);  // its LISTEN in effect, its catch-up read done
    }
    RawClients raw(cfg.pg_dsn, clients);
    std::vector<std::uint64_t> counters(static_cast<std::size_t>(clients));
    const auto reflex_set = [&] {
      return throughput(clients, cfg.short_window(), [&](int t) -> std::uint64_t {
        auto& n = counters[static_cast<std::size_t>(t)];
        (void)entities.set({kDomain, kType, next_key(n, t, clients)}, kValues);
        return 1;
      });
    };
    const auto measured = compare(
        cfg, {[&] { return raw.run(cfg.short_window(), "set"); }, reflex_set}, cfg.short_rounds());
    auto row =
        ratio_row("E1",
                  "PG Entities::set, 1000 keys, " + std::to_string(clients) +
                      (clients == 1 ? " client" : " clients") +
                      (c.followed ? ", a stream of another process following"
                                  : " (raw: the same upsert + event INSERT by hand, one tx)"),
                  "events/s", measured, 0.90);
    if (c.followed) {
      // What a consumer elsewhere costs the producer: a NOTIFY per commit or per millisecond (and
      // the consumer's reads on the same two cores); the raw side announces nothing.
      row.goal = "(reported)";
      row.met = true;
      row.note =
          "reflex wakes the other stream: a pg_notify per commit, at most one per millisecond";
    } else {
      row.note = "nobody else listens: reflex sends no NOTIFY";
    }
    rows.push_back(row);
  }
}

void e2(const Config& cfg, std::vector<Row>& rows) {
  if (!cfg.wants("E2")) return;
  // The EntityService, what reflexd runs.
  HostedService<reflex::rstategate::EntityService> hosted(
      Entities(Database::open(cfg.pg_dsn),
               {.schema = {.entities_table = kEntities, .events_table = kEntityEvents}}),
      reflex::rstategate::Identity({.disabled = true}));
  google::protobuf::Struct values;
  if (!google::protobuf::util::JsonStringToMessage(kValues, &values).ok()) {
    throw std::runtime_error("the values are not a Struct");
  }
  for (const int clients : {1, 4}) {
    log("E2 " + std::to_string(clients) + " client(s)");
    RawClients raw(cfg.pg_dsn, clients);
    HostedService<HandwrittenSet> bare(cfg.pg_dsn, clients);
    // Sets through a service's channels, a client each with keys of its own.
    const auto grpc_sets = [&](const auto& service) {
      struct Clients {
        std::vector<std::unique_ptr<stategate::EntityService::Stub>> stubs;
        std::vector<std::uint64_t> counters;
      };
      auto state = std::make_shared<Clients>();
      for (int i = 0; i < clients; ++i)
        state->stubs.push_back(stategate::EntityService::NewStub(service.channel(i)));
      state->counters.resize(static_cast<std::size_t>(clients));
      return [&, state] {
        return throughput(clients, cfg.short_window(), [&](int t) -> std::uint64_t {
          const auto i = static_cast<std::size_t>(t);
          stategate::Entity req;
          req.set_domain(kDomain);
          req.set_type(kType);
          req.set_key(next_key(state->counters[i], t, clients));
          *req.mutable_values() = values;
          grpc::ClientContext ctx;
          google::protobuf::Empty res;
          const auto s = state->stubs[i]->Set(&ctx, req, &res);
          if (!s.ok()) throw std::runtime_error("Set: " + s.error_message());
          return 1;
        });
      };
    };
    // The service records the gRPC method, as stategate does; the baselines write the same.
    const auto measured =
        compare(cfg,
                {[&] { return raw.run(cfg.short_window(), "/stategate.EntityService/Set"); },
                 grpc_sets(hosted), grpc_sets(bare)},
                cfg.short_rounds());
    auto row = ratio_row("E2",
                         "gRPC EntityService/Set (reflexd's service, loopback), " +
                             std::to_string(clients) + (clients == 1 ? " client" : " clients") +
                             " (raw: E1's hand-written tx in-process; floor: that tx behind "
                             "the generated service)",
                         "events/s", measured, 0);
    add_floor(row, measured, 2);
    row.goal = "(reported)";
    row.met = true;
    rows.push_back(row);
  }
}

}  // namespace

void entities_scenarios(const Config& config, std::vector<Row>& rows) {
  if (!config.wants("E1") && !config.wants("E2")) return;
  setup_tables(config);
  e1(config, rows);
  e2(config, rows);
}

}  // namespace bench
