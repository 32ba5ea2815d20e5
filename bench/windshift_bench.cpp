// W1, W2: rwindshift's EventsService in a gRPC server on loopback against bare nats.c doing the
// same work: W1 publishes (8 concurrent clients, each waiting for its acknowledgement), W2
// consumes with an ack per event (the Events stream against a bare pull consumer).
#include <google/protobuf/wrappers.pb.h>
#include <grpcpp/grpcpp.h>
#include <nats/nats.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "hosted_service.hpp"
#include "raw_nats.hpp"
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

/// A W row: ours against raw (the NATS work alone) and against the floor (the gRPC work alone),
/// noting what a daemon doing both jobs on the same cores can reach, their costs per event added.
Row bounded_row(std::string id, std::string name, const Comparison& measured) {
  auto row = ratio_row(std::move(id), std::move(name), "events/s", measured, 0.70);
  add_floor(row, measured, 2);
  if (row.raw && row.floor && row.reflex) {
    const double bound = 1 / (1 / *row.raw + 1 / *row.floor);
    char note[160];
    std::snprintf(note, sizeof note,
                  "NATS work + gRPC work on the same cores: at most %.0f events/s; ours is %.2f of "
                  "that",
                  bound, *row.reflex / bound);
    row.note = note;
  }
  return row;
}

/// PublishEvent answered at once, with no NATS behind it: what gRPC alone allows 8 unary clients
/// on this machine, the ceiling of any service that takes one event per call (W1's floor).
class EchoPublish final : public ev::EventsService::CallbackService {
 public:
  EchoPublish* service() { return this; }
  void shutdown() {}
  grpc::ServerUnaryReactor* PublishEvent(grpc::CallbackServerContext* ctx,
                                         const ev::PublishEventRequest* /*req*/,
                                         ev::PublishEventResponse* res) override {
    res->set_id(next_.fetch_add(1, std::memory_order_relaxed));
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  std::atomic<std::uint64_t> next_{1};
};

/// kClients unary PublishEvent callers of `hosted`, one connection each, for the window: calls
/// per second.
template <class Hosted>
double publish_calls(const Config& cfg, const Hosted& hosted, const std::string& subject,
                     const google::protobuf::Any& any) {
  std::vector<std::unique_ptr<ev::EventsService::Stub>> stubs;
  for (int i = 0; i < kClients; ++i) stubs.push_back(ev::EventsService::NewStub(hosted.channel(i)));
  ev::PublishEventRequest req;
  req.set_subject(subject);
  *req.mutable_data() = any;
  return throughput(kClients, cfg.window(), [&](int t) -> std::uint64_t {
    grpc::ClientContext ctx;
    ev::PublishEventResponse res;
    const auto s = stubs[t]->PublishEvent(&ctx, req, &res);
    if (!s.ok()) throw std::runtime_error("PublishEvent: " + s.error_message());
    return 1;
  });
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
    std::vector<NatsConnection> ncs;
    std::vector<JetStreamContext> jss;
    for (int i = 0; i < kClients; ++i) {
      ncs.push_back(nats_connect(cfg.nats_url));
      jss.push_back(jetstream(ncs.back().get()));
    }
    const std::string subject = stream + ".orders";
    const double rate = throughput(kClients, cfg.window(), [&](int t) -> std::uint64_t {
      const NatsMessage msg =
          nats_message(subject, any.value(),
                       {{"WS-Published-Time", published.c_str()}, {"WS-Data-Type", kDataType}});
      jsPubAck* ack = nullptr;
      nats_check(
          js_PublishMsg(&ack, jss[static_cast<std::size_t>(t)].get(), msg.get(), nullptr, nullptr),
          "publish");
      jsPubAck_Destroy(ack);
      return 1;
    });
    reflex::rnats::delete_stream(conn, stream);
    return rate;
  };
  const auto ours = [&] {
    const auto stream = fresh_stream(conn, "BENCH_W1_WS_", run);
    const double rate = publish_calls(cfg, hosted, stream + ".orders", any);
    reflex::rnats::delete_stream(conn, stream);
    return rate;
  };
  HostedService<EchoPublish> echo;
  const auto grpc_alone = [&] { return publish_calls(cfg, echo, "BENCH_W1.orders", any); };
  rows.push_back(bounded_row("W1",
                             "PublishEvent over gRPC, 8 clients (raw: nats.c js_PublishMsg, 8 "
                             "connections; floor: the same calls answered at once, no NATS)",
                             compare(cfg, {raw, ours, grpc_alone})));
}

/// The Events stream with no NATS behind it: after Subscribe, the same prebuilt event over and
/// over (its id counting up), at most max_processing_events unacknowledged, every Ack answered
/// with its confirmation. What gRPC alone allows one such stream on this machine (W2's floor).
class EchoEvents final : public ev::EventsService::CallbackService {
 public:
  EchoEvents* service() { return this; }
  void shutdown() {}
  grpc::ServerBidiReactor<ev::EventsRequest, ev::EventsResponse>* Events(
      grpc::CallbackServerContext* /*ctx*/) override {
    return new Stream();
  }

 private:
  class Stream final : public grpc::ServerBidiReactor<ev::EventsRequest, ev::EventsResponse> {
   public:
    Stream() {
      *event_.mutable_event()->mutable_data() = payload();
      event_.mutable_event()->set_subject("BENCH_W2.orders");
      event_.mutable_event()->set_delivery_attempt(1);
      StartRead(&in_);
    }
    void OnReadDone(bool ok) override {
      if (!ok) return finish();
      std::unique_lock lock(mu_);
      if (in_.has_subscribe()) {
        window_ = std::max<std::uint32_t>(in_.subscribe().max_processing_events(), 1);
      } else if (in_.has_ack()) {
        unacked_ -= std::min<std::uint64_t>(unacked_, in_.ack().ids_size());
        auto* confirmed = confirmations_.emplace_back().mutable_ack_confirmation();
        *confirmed->mutable_ids() = in_.ack().ids();
      }
      write_next(lock);
      // No gRPC call under the lock: a reaction may run inline, on this thread.
      if (lock.owns_lock()) lock.unlock();
      StartRead(&in_);
    }
    void OnWriteDone(bool ok) override {
      if (!ok) return finish();
      std::unique_lock lock(mu_);
      writing_ = false;
      write_next(lock);
    }
    void OnDone() override { delete this; }

   private:
    // A confirmation first, else the next event while the window has room; releases the lock
    // when it starts a write.
    void write_next(std::unique_lock<std::mutex>& lock) {
      if (writing_ || done_) return;
      const ev::EventsResponse* next = nullptr;
      if (!confirmations_.empty()) {
        out_ = std::move(confirmations_.front());
        confirmations_.pop_front();
        next = &out_;
      } else if (window_ > 0 && unacked_ < window_) {
        ++unacked_;
        event_.mutable_event()->set_id(++sequence_);
        next = &event_;
      }
      if (next == nullptr) return;
      writing_ = true;
      lock.unlock();
      StartWrite(next);
    }
    void finish() {
      {
        std::lock_guard lock(mu_);
        if (done_) return;
        done_ = true;
      }
      // Not under the lock: OnDone (which deletes this) may run inline.
      Finish(grpc::Status::OK);
    }

    std::mutex mu_;
    ev::EventsRequest in_;
    ev::EventsResponse event_, out_;
    std::deque<ev::EventsResponse> confirmations_;
    std::uint64_t window_ = 0, unacked_ = 0, sequence_ = 0;
    bool writing_ = false, done_ = false;
  };
};

/// Subscribes to `consumer` of `stream` on `hosted`'s Events stream and takes `count` events,
/// acknowledging every one by list as windshift clients do: events per second.
template <class Hosted>
double consume_events(const Hosted& hosted, const std::string& stream, const std::string& consumer,
                      long count, int window) {
  auto stub = ev::EventsService::NewStub(hosted.channel(0));
  grpc::ClientContext ctx;
  auto call = stub->Events(&ctx);
  ev::EventsRequest subscribe;
  subscribe.mutable_subscribe()->set_stream(stream);
  subscribe.mutable_subscribe()->set_consumer(consumer);
  subscribe.mutable_subscribe()->set_max_processing_events(static_cast<std::uint32_t>(window));
  const auto start = Clock::now();
  call->Write(subscribe);
  long got = 0;
  ev::EventsResponse r;
  ev::EventsRequest ack;
  auto* ids = ack.mutable_ack()->mutable_ids();
  // An Ack per half window (the server keeps the other half coming meanwhile), and the rest at
  // the end.
  const int ack_every = window / 2;
  while (got < count && call->Read(&r)) {
    if (!r.has_event()) continue;
    ids->Add(r.event().id());
    ++got;
    if (ids->size() >= ack_every || got == count) {
      call->Write(ack);
      ids->Clear();
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ctx.TryCancel();
  while (call->Read(&r)) {
  }
  (void)call->Finish();
  return static_cast<double>(got) / seconds;
}

void fill(const reflex::rnats::Connection& conn, const std::string& stream, long count,
          const std::string& data) {
  const auto nc = nats_connect(conn.url());
  const auto js = jetstream(nc.get(), 4096);
  const std::string subject = stream + ".orders";
  for (long i = 0; i < count; ++i) {
    publish_async(js.get(), nats_message(subject, data,
                                         {{"WS-Published-Time", "2026-01-01T00:00:00Z"},
                                          {"WS-Data-Type", kDataType}}));
  }
  jsPubOptions complete;
  jsPubOptions_Init(&complete);
  complete.MaxWait = 60000;
  nats_check(js_PublishAsyncComplete(js.get(), &complete), "complete");
}

void w2(const Config& cfg, std::vector<Row>& rows) {
  if (!cfg.wants("W2")) return;
  log("W2");
  // 20k events a round: each round fills two streams first, so shorter rounds give more of them.
  const long count = cfg.quick ? 10000 : 20000;
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
    const auto nc = nats_connect(cfg.nats_url);
    const auto js = jetstream(nc.get());
    natsSubscription* raw_sub = nullptr;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Consumer = "raw";
    nats_check(
        js_PullSubscribe(&raw_sub, js.get(), (stream + ".>").c_str(), "raw", nullptr, &so, nullptr),
        "pull subscribe");
    const NatsSubscription sub(raw_sub, &natsSubscription_Destroy);
    const auto start = Clock::now();
    long got = 0;
    while (got < count && Clock::now() - start < 120s) {
      natsMsgList list{};
      if (natsSubscription_Fetch(&list, sub.get(), kWindow, 5000, nullptr) != NATS_OK) continue;
      for (int i = 0; i < list.Count; ++i) {
        natsMsg_Ack(list.Msgs[i], nullptr);
        ++got;
      }
      natsMsgList_Destroy(&list);
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
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
    const double rate = consume_events(hosted, stream, "ws", count, kWindow);
    reflex::rnats::delete_stream(conn, stream);
    return rate;
  };
  HostedService<EchoEvents> echo;
  const auto grpc_alone = [&] { return consume_events(echo, "BENCH_W2", "ws", count, kWindow); };
  rows.push_back(bounded_row("W2",
                             "Events stream, " + std::to_string(count / 1000) +
                                 "k events, an Ack each (raw: nats.c pull consumer, natsMsg_Ack; "
                                 "floor: the same stream served with no NATS)",
                             compare(cfg, {raw, ours, grpc_alone})));
}

}  // namespace

void windshift_scenarios(const Config& config, std::vector<Row>& rows) {
  w1(config, rows);
  w2(config, rows);
}

}  // namespace bench
