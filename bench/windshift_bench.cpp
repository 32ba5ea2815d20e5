// W1, W2: rwindshift's EventsService in a gRPC server on loopback against bare nats.c doing the
// same work: W1 publishes (8 concurrent clients, each waiting for its acknowledgement), W2
// consumes with an ack per event (the Events stream against a bare pull consumer).
#include <google/protobuf/wrappers.pb.h>
#include <grpcpp/grpcpp.h>
#include <nats/nats.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "hosted_service.hpp"
#include "reflex/rnats/rnats.hpp"
#include "reflex/rwindshift/events_service.hpp"
#include "scenarios.hpp"
#include "windshift/events/v1alpha1/service.grpc.pb.h"

namespace bench {
namespace {

using namespace std::chrono_literals;
namespace ev = windshift::events::v1alpha1;

constexpr int kClients = 8;
constexpr const char* kDataType = "google.protobuf.StringValue";

void check(natsStatus s, const char* what) {
  if (s != NATS_OK) throw std::runtime_error(std::string(what) + ": " + natsStatus_GetText(s));
}

// 100 bytes of payload, as an Any of a StringValue (what both sides publish).
google::protobuf::Any payload() {
  google::protobuf::StringValue v;
  v.set_value(std::string(98, 'x'));
  google::protobuf::Any any;
  any.PackFrom(v);
  return any;
}

std::string fresh_stream(const reflex::rnats::Connection& conn, const char* prefix, int& run) {
  const std::string name =
      std::string(prefix) + std::to_string(::getpid()) + "_" + std::to_string(++run);
  reflex::rnats::ensure_stream(
      conn, {.name = name, .subjects = {name + ".>"}, .storage = reflex::rnats::Storage::memory});
  return name;
}

void w1(const Config& cfg, std::vector<Row>& rows) {
  if (!cfg.wants("W1")) return;
  log("W1");
  reflex::rnats::Connection conn({.url = cfg.nats_url, .name = "bench-windshift"});
  HostedService<reflex::rwindshift::EventsService> hosted(conn);
  int run = 0;
  const auto any = payload();
  const std::string published = "2026-01-01T00:00:00Z";

  const auto raw = [&] {
    const auto stream = fresh_stream(conn, "BENCH_W1_RAW_", run);
    std::vector<natsConnection*> ncs(kClients);
    std::vector<jsCtx*> jss(kClients);
    for (int i = 0; i < kClients; ++i) {
      check(natsConnection_ConnectTo(&ncs[i], cfg.nats_url.c_str()), "connect");
      check(natsConnection_JetStream(&jss[i], ncs[i], nullptr), "jetstream");
    }
    const std::string subject = stream + ".orders";
    const double rate = throughput(kClients, cfg.window(), [&](int t) -> std::uint64_t {
      natsMsg* msg = nullptr;
      check(natsMsg_Create(&msg, subject.c_str(), nullptr, any.value().data(),
                           static_cast<int>(any.value().size())),
            "msg");
      natsMsgHeader_Set(msg, "WS-Published-Time", published.c_str());
      natsMsgHeader_Set(msg, "WS-Data-Type", kDataType);
      jsPubAck* ack = nullptr;
      check(js_PublishMsg(&ack, jss[t], msg, nullptr, nullptr), "publish");
      jsPubAck_Destroy(ack);
      natsMsg_Destroy(msg);
      return 1;
    });
    for (int i = 0; i < kClients; ++i) {
      jsCtx_Destroy(jss[i]);
      natsConnection_Destroy(ncs[i]);
    }
    reflex::rnats::delete_stream(conn, stream);
    return rate;
  };
  const auto ours = [&] {
    const auto stream = fresh_stream(conn, "BENCH_W1_WS_", run);
    std::vector<std::unique_ptr<ev::EventsService::Stub>> stubs;
    for (int i = 0; i < kClients; ++i)
      stubs.push_back(ev::EventsService::NewStub(hosted.channel(i)));
    ev::PublishEventRequest req;
    req.set_subject(stream + ".orders");
    *req.mutable_data() = any;
    const double rate = throughput(kClients, cfg.window(), [&](int t) -> std::uint64_t {
      grpc::ClientContext ctx;
      ev::PublishEventResponse res;
      const auto s = stubs[t]->PublishEvent(&ctx, req, &res);
      if (!s.ok()) throw std::runtime_error("PublishEvent: " + s.error_message());
      return 1;
    });
    reflex::rnats::delete_stream(conn, stream);
    return rate;
  };
  rows.push_back(ratio_row("W1",
                           "PublishEvent over gRPC, 8 clients (raw: nats.c js_PublishMsg, 8 "
                           "connections)",
                           "events/s", compare(cfg, {raw, ours}), 0.70));
}

void fill(const reflex::rnats::Connection& conn, const std::string& stream, long count,
          const std::string& data) {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  check(natsConnection_ConnectTo(&nc, conn.url().c_str()), "connect");
  jsOptions options;
  jsOptions_Init(&options);
  options.PublishAsync.MaxPending = 4096;
  check(natsConnection_JetStream(&js, nc, &options), "jetstream");
  const std::string subject = stream + ".orders";
  for (long i = 0; i < count; ++i) {
    natsMsg* msg = nullptr;
    check(
        natsMsg_Create(&msg, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size())),
        "msg");
    natsMsgHeader_Set(msg, "WS-Published-Time", "2026-01-01T00:00:00Z");
    natsMsgHeader_Set(msg, "WS-Data-Type", kDataType);
    check(js_PublishMsgAsync(js, &msg, nullptr), "publish");
  }
  jsPubOptions complete;
  jsPubOptions_Init(&complete);
  complete.MaxWait = 60000;
  check(js_PublishAsyncComplete(js, &complete), "complete");
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
}

void w2(const Config& cfg, std::vector<Row>& rows) {
  if (!cfg.wants("W2")) return;
  log("W2");
  const long count = cfg.quick ? 20000 : 60000;
  constexpr int kWindow = 64;
  reflex::rnats::Connection conn({.url = cfg.nats_url, .name = "bench-windshift"});
  HostedService<reflex::rwindshift::EventsService> hosted(conn);
  int run = 0;
  const auto any = payload();

  const auto raw = [&] {
    const auto stream = fresh_stream(conn, "BENCH_W2_RAW_", run);
    fill(conn, stream, count, any.value());
    reflex::rnats::ensure_consumer(conn, {.stream = stream,
                                          .name = "raw",
                                          .filter_subject = stream + ".>",
                                          .max_pending = 1000,
                                          .pull = true});
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;
    check(natsConnection_ConnectTo(&nc, cfg.nats_url.c_str()), "connect");
    check(natsConnection_JetStream(&js, nc, nullptr), "jetstream");
    natsSubscription* sub = nullptr;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Consumer = "raw";
    check(js_PullSubscribe(&sub, js, (stream + ".>").c_str(), "raw", nullptr, &so, nullptr),
          "pull subscribe");
    const auto start = Clock::now();
    long got = 0;
    while (got < count && Clock::now() - start < 120s) {
      natsMsgList list{};
      if (natsSubscription_Fetch(&list, sub, kWindow, 5000, nullptr) != NATS_OK) continue;
      for (int i = 0; i < list.Count; ++i) {
        natsMsg_Ack(list.Msgs[i], nullptr);
        ++got;
      }
      natsMsgList_Destroy(&list);
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    reflex::rnats::delete_stream(conn, stream);
    return static_cast<double>(got) / seconds;
  };
  const auto ours = [&] {
    const auto stream = fresh_stream(conn, "BENCH_W2_WS_", run);
    fill(conn, stream, count, any.value());
    auto stub = ev::EventsService::NewStub(hosted.channel(0));
    {
      ev::EnsureConsumerRequest req;
      req.set_stream(stream);
      req.set_name("ws");
      req.add_subjects(stream + ".>");
      req.mutable_from()->set_start(true);
      grpc::ClientContext ctx;
      ev::EnsureConsumerResponse res;
      const auto s = stub->EnsureConsumer(&ctx, req, &res);
      if (!s.ok()) throw std::runtime_error("EnsureConsumer: " + s.error_message());
    }
    grpc::ClientContext ctx;
    auto call = stub->Events(&ctx);
    ev::EventsRequest subscribe;
    subscribe.mutable_subscribe()->set_stream(stream);
    subscribe.mutable_subscribe()->set_consumer("ws");
    subscribe.mutable_subscribe()->set_max_processing_events(kWindow);
    const auto start = Clock::now();
    call->Write(subscribe);
    long got = 0;
    ev::EventsResponse r;
    ev::EventsRequest ack;
    auto* ids = ack.mutable_ack()->mutable_ids();
    // Every event is acknowledged, by list as windshift clients do: an Ack per half window
    // (the server keeps the other half coming meanwhile), and the rest at the end.
    constexpr int kAckEvery = kWindow / 2;
    while (got < count && call->Read(&r)) {
      if (!r.has_event()) continue;
      ids->Add(r.event().id());
      ++got;
      if (ids->size() >= kAckEvery || got == count) {
        call->Write(ack);
        ids->Clear();
      }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    ctx.TryCancel();
    while (call->Read(&r)) {
    }
    (void)call->Finish();
    reflex::rnats::delete_stream(conn, stream);
    return static_cast<double>(got) / seconds;
  };
  rows.push_back(ratio_row("W2",
                           "Events stream, " + std::to_string(count / 1000) +
                               "k events, an Ack each (raw: nats.c pull consumer, natsMsg_Ack)",
                           "events/s", compare(cfg, {raw, ours}), 0.70));
}

}  // namespace

void windshift_scenarios(const Config& config, std::vector<Row>& rows) {
  w1(config, rows);
  w2(config, rows);
}

}  // namespace bench
