#pragma once
// The services of reflex::rwindshift hosted in a gRPC server of the test's own on loopback TCP,
// with clients generated from our protos. Every test names its streams, consumers and stores
// uniquely, so tests share the test nats-server (REFLEX_TEST_NATS_URL).

#include <google/protobuf/wrappers.pb.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "reflex/rnats/rnats.hpp"
#include "reflex/rwindshift/events_service.hpp"
#include "reflex/rwindshift/state_service.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/nats.hpp"
#include "reflex_test/wait.hpp"
#include "windshift/events/v1alpha1/service.grpc.pb.h"
#include "windshift/state/v1alpha1/service.grpc.pb.h"

namespace rwindshift_test {

using namespace std::chrono_literals;
namespace ev = windshift::events::v1alpha1;
namespace st = windshift::state::v1alpha1;

/// EventsService and StateService in one gRPC server on 127.0.0.1 (a free port).
class Server {
 public:
  explicit Server(reflex::rnats::Connection nats,
                  reflex::rwindshift::EventsServiceOptions events = {})
      : nats_(nats), events_(nats, std::move(events)), state_(nats) {
    // [snippet:host]
    // events_: reflex::rwindshift::EventsService(nats, options), state_: StateService(nats)
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(events_.service());
    builder.RegisterService(state_.service());
    server_ = builder.BuildAndStart();
    // [end snippet]
    channel_ = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  }
  ~Server() { stop(); }

  void stop() {
    if (!server_) return;
    // [snippet:drain]
    events_.shutdown();  // open Events streams end: UNAVAILABLE "server shutting down"
    server_->Shutdown(std::chrono::system_clock::now() + 2s);
    // [end snippet]
    server_->Wait();
    server_.reset();
  }

  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::unique_ptr<ev::EventsService::Stub> events() const {
    return ev::EventsService::NewStub(channel_);
  }
  [[nodiscard]] std::unique_ptr<st::StateService::Stub> state() const {
    return st::StateService::NewStub(channel_);
  }
  /// A stub on a channel of its own (a second client process, as far as gRPC can tell).
  [[nodiscard]] std::unique_ptr<ev::EventsService::Stub> other_events() const {
    grpc::ChannelArguments args;
    args.SetInt("reflex-test-unique", std::rand());  // not shared with the first channel
    return ev::EventsService::NewStub(
        grpc::CreateCustomChannel(address(), grpc::InsecureChannelCredentials(), args));
  }
  reflex::rwindshift::EventsService& events_service() { return events_; }
  const reflex::rnats::Connection& nats() const { return nats_; }

 private:
  reflex::rnats::Connection nats_;
  reflex::rwindshift::EventsService events_;
  reflex::rwindshift::StateService state_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

inline std::unique_ptr<grpc::ClientContext> context(std::chrono::milliseconds timeout = 10s) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  return ctx;
}

inline google::protobuf::Any any_string(const std::string& text) {
  google::protobuf::StringValue v;
  v.set_value(text);
  google::protobuf::Any any;
  any.PackFrom(v);
  return any;
}

inline std::string string_of(const google::protobuf::Any& any) {
  google::protobuf::StringValue v;
  EXPECT_TRUE(any.UnpackTo(&v)) << any.type_url();
  return v.value();
}

inline void set_duration(google::protobuf::Duration* d, std::chrono::milliseconds ms) {
  d->set_seconds(ms.count() / 1000);
  d->set_nanos(static_cast<int>((ms.count() % 1000) * 1000000));
}

/// Streams made through the service, deleted at the end of the test.
class Streams {
 public:
  explicit Streams(reflex::rnats::Connection nats) : nats_(std::move(nats)) {}
  ~Streams() {
    for (const auto& name : names_) {
      try {
        reflex::rnats::delete_stream(nats_, name);
      } catch (...) {
      }
    }
  }
  /// A unique stream name (deleted at the end).
  std::string name(const std::string& prefix = "ws") {
    names_.push_back(reflex_test::unique_name(prefix));
    return names_.back();
  }

 private:
  reflex::rnats::Connection nats_;
  std::vector<std::string> names_;
};

inline ev::EnsureStreamRequest subjects_stream(const std::string& name,
                                               std::vector<std::string> subjects = {}) {
  ev::EnsureStreamRequest req;
  req.set_name(name);
  if (subjects.empty()) subjects = {name + ".>"};
  for (auto& s : subjects) req.mutable_subjects()->add_subjects(s);
  req.mutable_storage()->set_type(ev::EnsureStreamRequest::STORAGE_TYPE_MEMORY);
  return req;
}

inline grpc::Status ensure_stream(ev::EventsService::Stub& stub,
                                  const ev::EnsureStreamRequest& req) {
  ev::EnsureStreamResponse res;
  return stub.EnsureStream(context().get(), req, &res);
}

inline std::uint64_t publish(ev::EventsService::Stub& stub, const std::string& subject,
                             const std::string& text, std::optional<std::string> key = {}) {
  ev::PublishEventRequest req;
  req.set_subject(subject);
  *req.mutable_data() = any_string(text);
  if (key) req.set_idempotency_key(*key);
  ev::PublishEventResponse res;
  const auto s = stub.PublishEvent(context().get(), req, &res);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return res.id();
}

/// A consumer of all of `stream`'s subjects "<stream>.>", from the start.
inline std::string ensure_consumer(ev::EventsService::Stub& stub, const std::string& stream,
                                   std::optional<std::string> name,
                                   std::chrono::milliseconds timeout = 1s) {
  ev::EnsureConsumerRequest req;
  req.set_stream(stream);
  if (name) req.set_name(*name);
  req.add_subjects(stream + ".>");
  req.mutable_from()->set_start(true);
  set_duration(req.mutable_processing_timeout(), timeout);
  ev::EnsureConsumerResponse res;
  const auto s = stub.EnsureConsumer(context().get(), req, &res);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return res.id();
}

/// One Events call: responses are read on a thread of its own into a queue the test waits on.
class Subscriber {
 public:
  Subscriber(ev::EventsService::Stub& stub, const std::string& stream, const std::string& consumer,
             std::optional<std::uint64_t> max_processing = {}) {
    ctx_.set_deadline(std::chrono::system_clock::now() + 120s);
    call_ = stub.Events(&ctx_);
    reader_ = std::thread([this] {
      ev::EventsResponse r;
      while (call_->Read(&r)) {
        std::lock_guard lock(mu_);
        if (r.has_subscribed()) subscribed_ = r.subscribed();
        if (r.has_event()) {
          events_.push_back(r.event());
        } else if (!r.has_subscribed()) {
          confirmations_.push_back(r);
        }
        cv_.notify_all();
      }
      std::lock_guard lock(mu_);
      done_ = true;
      cv_.notify_all();
    });
    ev::EventsRequest req;
    req.mutable_subscribe()->set_stream(stream);
    req.mutable_subscribe()->set_consumer(consumer);
    if (max_processing) req.mutable_subscribe()->set_max_processing_events(*max_processing);
    write(req);
  }
  ~Subscriber() { close(); }

  bool write(const ev::EventsRequest& req) { return call_->Write(req); }
  void ack(const std::vector<std::uint64_t>& ids) {
    ev::EventsRequest req;
    for (auto id : ids) req.mutable_ack()->add_ids(id);
    write(req);
  }
  void ping(const std::vector<std::uint64_t>& ids) {
    ev::EventsRequest req;
    for (auto id : ids) req.mutable_ping()->add_ids(id);
    write(req);
  }
  void reject(const std::vector<std::uint64_t>& ids,
              std::optional<std::chrono::milliseconds> delay = {}, bool permanently = false) {
    ev::EventsRequest req;
    for (auto id : ids) req.mutable_reject()->add_ids(id);
    if (delay) set_duration(req.mutable_reject()->mutable_delay(), *delay);
    if (permanently) req.mutable_reject()->set_permanently(true);
    write(req);
  }
  /// The next event within `timeout`; nullopt on timeout or when the call ended.
  std::optional<ev::Event> next_event(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !events_.empty() || done_; });
    if (events_.empty()) return std::nullopt;
    auto e = events_.front();
    events_.pop_front();
    return e;
  }
  /// The next ack, reject or ping confirmation within `timeout`.
  std::optional<ev::EventsResponse> next_confirmation(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !confirmations_.empty() || done_; });
    if (confirmations_.empty()) return std::nullopt;
    auto c = confirmations_.front();
    confirmations_.pop_front();
    return c;
  }
  /// The Subscribed answer, waiting for it at most `timeout`.
  std::optional<ev::EventsResponse::Subscribed> subscribed(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return subscribed_.has_value() || done_; });
    return subscribed_;
  }
  /// Waits for the server to end the call; its status.
  grpc::Status finish(std::chrono::milliseconds timeout = 5s) {
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, timeout, [&] { return done_; })) {
        lock.unlock();
        ctx_.TryCancel();
      }
    }
    if (reader_.joinable()) reader_.join();
    if (!finished_) {
      finished_ = true;
      status_ = call_->Finish();
    }
    return status_;
  }
  /// Goes away without a word (cancels the call).
  void close() {
    if (finished_) return;
    ctx_.TryCancel();
    finish();
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<ev::EventsRequest, ev::EventsResponse>> call_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ev::Event> events_;
  std::deque<ev::EventsResponse> confirmations_;
  std::optional<ev::EventsResponse::Subscribed> subscribed_;
  bool done_ = false;
  bool finished_ = false;
  grpc::Status status_;
};

/// The ids of a confirmation (whichever kind), sorted into its three lists.
struct Sorted {
  std::vector<std::uint64_t> done, invalid, failed;
};
inline Sorted sorted(const ev::EventsResponse& r) {
  const auto copy = [](const auto& c) {
    return Sorted{{c.ids().begin(), c.ids().end()},
                  {c.invalid_ids().begin(), c.invalid_ids().end()},
                  {c.temporary_failed_ids().begin(), c.temporary_failed_ids().end()}};
  };
  if (r.has_ack_confirmation()) return copy(r.ack_confirmation());
  if (r.has_reject_confirmation()) return copy(r.reject_confirmation());
  return copy(r.ping_confirmation());
}

}  // namespace rwindshift_test
