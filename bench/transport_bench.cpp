// G1, R1: rgrpc against bare gRPC streaming, the relay against bare nats.c async publishing.
#include <grpcpp/grpcpp.h>
#include <nats/nats.h>

#include <cstdio>
#include <pqxx/pqxx>
#include <thread>

#include "raw_nats.hpp"
#include "reflex/proto/reflex.grpc.pb.h"
#include "reflex/reflex.hpp"
#include "reflex/rgrpc/generic.hpp"
#include "reflex/rnats/rnats.hpp"
#include "reflex/rsql/rsql.hpp"
#include "scenarios.hpp"

namespace bench {
namespace {

using namespace std::chrono_literals;

const std::string kMetadata(64, '\xab');

/// The raw baseline of G1: a generated synchronous service writing ready-made messages.
class RawReflex final : public reflexpb::Reflex::Service {
 public:
  explicit RawReflex(const std::vector<reflexpb::Event>& messages) : messages_(messages) {}
  grpc::Status Stream(grpc::ServerContext*, const reflexpb::StreamRequest*,
                      grpc::ServerWriter<reflexpb::Event>* writer) override {
    for (const auto& m : messages_)
      if (!writer->Write(m)) break;
    return {grpc::StatusCode::OUT_OF_RANGE, "done"};
  }

 private:
  const std::vector<reflexpb::Event>& messages_;
};

void g1(const Config& cfg, std::vector<Row>& rows) {
  if (!cfg.wants("G1")) return;
  log("G1");
  // 50k events a round (about 0.3 s), as many rounds as fit: two gRPC streams' threads share the
  // 2 cores, so single rounds vary by 10-25 %, and the median needs many of them.
  const long count = cfg.quick ? 20000 : 50000;
  reflex::MemLog log_;
  std::vector<reflexpb::Event> messages(static_cast<std::size_t>(count));
  for (long i = 0; i < count; ++i) {
    const auto e = log_.append(1, "user-" + std::to_string(i), kMetadata);
    reflex::rgrpc::to_proto(e, messages[static_cast<std::size_t>(i)]);
  }
  RawReflex raw_service(messages);
  int raw_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &raw_port);
  builder.RegisterService(&raw_service);
  auto raw_server = builder.BuildAndStart();
  auto raw_stub = reflexpb::Reflex::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(raw_port), grpc::InsecureChannelCredentials()));

  reflex::rgrpc::Server server(log_.stream_func());
  const auto remote = reflex::rgrpc::stream_func({.target = server.address()});

  const auto raw = [&] {
    grpc::ClientContext context;
    reflexpb::StreamRequest request;
    reflexpb::Event message;
    const auto start = Clock::now();
    auto reader = raw_stub->Stream(&context, request);
    long n = 0;
    while (reader->Read(&message)) ++n;
    (void)reader->Finish();
    if (n != count) throw std::runtime_error("raw gRPC read " + std::to_string(n));
    return static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - start).count();
  };
  const auto ours = [&] {
    std::stop_source stop;
    const auto start = Clock::now();
    auto client = remote(stop.get_token(), "", {});
    long n = 0;
    for (; n < count; ++n) (void)client->recv();
    const double rate =
        static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - start).count();
    stop.request_stop();
    return rate;
  };
  rows.push_back(ratio_row("G1",
                           "rgrpc stream of " + std::to_string(count / 1000) +
                               "k events, hot source (raw: generated gRPC service)",
                           "events/s", compare(cfg, {raw, ours}, cfg.max_rounds() * 5), 0.80));
  raw_server->Shutdown(std::chrono::system_clock::now() + 1s);
}

/// nats.c async publishing of `count` messages like the relay's, with the same window.
double raw_publish(const Config& cfg, const std::string& stream, long count) {
  const auto nc = nats_connect(cfg.nats_url);
  const auto js = jetstream(nc.get());
  const std::string subject = stream + ".events";
  const auto start = Clock::now();
  for (long i = 0; i < count; ++i) {
    publish_async(js.get(), relay_like_message(subject, std::to_string(i + 1), kMetadata));
  }
  jsPubOptions complete;
  jsPubOptions_Init(&complete);
  complete.MaxWait = 60000;
  nats_check(js_PublishAsyncComplete(js.get(), &complete), "complete");
  return static_cast<double>(count) / std::chrono::duration<double>(Clock::now() - start).count();
}

void r1(const Config& cfg, std::vector<Row>& rows) {
  if (!cfg.wants("R1")) return;
  log("R1");
  // 50k events a round (about 0.5 s each side) and up to three times the usual rounds: the three
  // processes that share 2 cores (this one, PostgreSQL, nats-server) make single rounds noisy.
  const long count = cfg.quick ? 20000 : 50000;
  const std::string table = ensure_pg_stream_table(cfg, count);
  reflex::rnats::Connection conn({.url = cfg.nats_url, .name = "bench-relay"});
  int run = 0;
  const auto fresh_stream = [&] {
    const std::string name = "BENCH_R1_" + std::to_string(::getpid()) + "_" + std::to_string(++run);
    reflex::rnats::ensure_stream(
        conn, {.name = name, .subjects = {name + ".>"}, .storage = reflex::rnats::Storage::memory});
    return name;
  };
  // This process's CPU per event beside the rates: on 2 cores the client competes with
  // nats-server and PostgreSQL, so what the relay spends per event is what limits it.
  std::vector<double> raw_cpu, relay_cpu;
  const auto cpu_per_event = [&](double since) {
    return (cpu_seconds() - since) * 1e6 / static_cast<double>(count);
  };
  const auto raw = [&] {
    const auto stream = fresh_stream();
    const double cpu = cpu_seconds();
    const double rate = raw_publish(cfg, stream, count);
    raw_cpu.push_back(cpu_per_event(cpu));
    reflex::rnats::delete_stream(conn, stream);
    return rate;
  };
  const auto ours = [&] {
    const auto stream = fresh_stream();
    const reflex::rsql::EventsTable source(reflex::rsql::Database::open(cfg.pg_dsn),
                                           {.schema = {.table = table}});
    reflex::rnats::Relay relay(conn, {.name = "bench",
                                      .source = source.stream_func(),
                                      .stream = stream,
                                      .subject = stream + ".events",
                                      .start_after = ""});
    const double cpu = cpu_seconds();
    const auto start = Clock::now();
    std::jthread relaying([&](std::stop_token stop) { relay.run(stop); });
    while (relay.stats().acknowledged < static_cast<std::uint64_t>(count) &&
           Clock::now() - start < 300s)
      std::this_thread::sleep_for(200us);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    relaying.request_stop();
    relaying.join();
    relay_cpu.push_back(cpu_per_event(cpu));
    reflex::rnats::delete_stream(conn, stream);
    return static_cast<double>(count) / seconds;
  };
  rows.push_back(ratio_row("R1",
                           "relay of " + std::to_string(count / 1000) +
                               "k events PG → JetStream, acks awaited (raw: nats.c async publish)",
                           "events/s", compare(cfg, {raw, ours}, cfg.max_rounds() * 3), 0.85));
  char note[128];
  std::snprintf(note, sizeof note,
                "client CPU per event: raw %.1f µs, relay %.1f µs (with its PostgreSQL reads)",
                median(raw_cpu), median(relay_cpu));
  rows.back().note = note;
}

}  // namespace

void transport_scenarios(const Config& config, std::vector<Row>& rows) {
  g1(config, rows);
  r1(config, rows);
}

}  // namespace bench
