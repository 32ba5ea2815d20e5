#pragma once
// The services of reflex::rstategate hosted in a gRPC server of the test's own on loopback TCP,
// on either backend (in-process, or the test nats-server: REFLEX_TEST_NATS_URL), with clients
// generated from our protos. NATS tests use buckets and a subject prefix of their own, so tests
// share the server; the buckets are deleted at the end.

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
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
#include "reflex/rstategate/rstategate.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/nats.hpp"
#include "reflex_test/wait.hpp"
#include "stategate/schema.grpc.pb.h"

namespace rstategate_test {

using namespace std::chrono_literals;
namespace sg = ::stategate;
namespace rs = reflex::rstategate;

enum class Backend { memory, nats };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::memory ? "Memory" : "Nats";
}

/// The three backends of one test: in-process, or on NATS with buckets and subjects of its own.
struct Backends {
  explicit Backends(Backend kind) {
    if (kind == Backend::memory) {
      peer = rs::make_memory_peer_hub();
      cache = rs::make_memory_cache_store();
      mutex = rs::make_memory_mutex_store();
      return;
    }
    nats.emplace(reflex_test::connect("reflex-rstategate-tests"));
    cache_bucket = reflex_test::unique_name("sg_cache");
    mutex_bucket = reflex_test::unique_name("sg_mutex");
    peer = rs::make_nats_peer_hub(*nats, {.subject_prefix = reflex_test::unique_name("sgpeer")});
    cache = rs::make_nats_cache_store(
        *nats, {.bucket = cache_bucket, .storage = reflex::rnats::Storage::memory});
    mutex = rs::make_nats_mutex_store(
        *nats, {.bucket = mutex_bucket, .storage = reflex::rnats::Storage::memory});
  }
  ~Backends() {
    if (!nats) return;
    for (const auto& bucket : {cache_bucket, mutex_bucket}) {
      try {
        reflex::rnats::StateStore::remove(*nats, bucket);
      } catch (...) {
      }
    }
  }
  Backends(const Backends&) = delete;
  Backends& operator=(const Backends&) = delete;

  std::optional<reflex::rnats::Connection> nats;
  std::string cache_bucket, mutex_bucket;
  std::shared_ptr<rs::PeerHub> peer;
  std::shared_ptr<rs::CacheStore> cache;
  std::shared_ptr<rs::MutexStore> mutex;
};

/// PeerService, CacheService and MutexService in one gRPC server on 127.0.0.1 (a free port).
class Server {
 public:
  Server(const Backends& backends, const rs::Identity& identity)
      : peer_(backends.peer, identity),
        cache_(backends.cache, identity),
        mutex_(backends.mutex, identity) {
    // [snippet:host]
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(peer_.service());
    builder.RegisterService(cache_.service());
    builder.RegisterService(mutex_.service());
    server_ = builder.BuildAndStart();
    // [end snippet]
    channel_ = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  }
  ~Server() { stop(); }

  void stop() {
    if (!server_) return;
    peer_.shutdown();  // open Streams end: UNAVAILABLE "server shutting down"
    cache_.shutdown();
    mutex_.shutdown();
    server_->Shutdown(std::chrono::system_clock::now() + 2s);
    server_->Wait();
    server_.reset();
  }

  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::unique_ptr<sg::PeerService::Stub> peer() const {
    return sg::PeerService::NewStub(channel_);
  }
  [[nodiscard]] std::unique_ptr<sg::CacheService::Stub> cache() const {
    return sg::CacheService::NewStub(channel_);
  }
  [[nodiscard]] std::unique_ptr<sg::MutexService::Stub> mutex() const {
    return sg::MutexService::NewStub(channel_);
  }
  /// A channel of its own (another client process, as far as gRPC can tell), connected: a test
  /// that makes clients contend measures the service, not who connects first (a connection
  /// attempt on a loaded machine may fail once and be retried after gRPC's backoff, which a call
  /// without wait_for_ready would see as UNAVAILABLE).
  [[nodiscard]] std::shared_ptr<grpc::Channel> other_channel() const {
    grpc::ChannelArguments args;
    args.SetInt("reflex-test-unique", ++channels_);
    auto channel = grpc::CreateCustomChannel(address(), grpc::InsecureChannelCredentials(), args);
    EXPECT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() + 10s))
        << "a new channel to the test server did not connect within 10 s";
    return channel;
  }
  rs::PeerService& peer_service() { return peer_; }

 private:
  rs::PeerService peer_;
  rs::CacheService cache_;
  rs::MutexService mutex_;
  int port_ = 0;
  mutable std::atomic<int> channels_{0};
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

inline constexpr const char* kToken = "s3cret-token";

/// A call context with a deadline and, unless `authorization` is empty, that metadata value.
inline std::unique_ptr<grpc::ClientContext> context(
    const std::string& authorization = std::string("Bearer ") + kToken,
    std::chrono::milliseconds timeout = 10s) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  if (!authorization.empty()) ctx->AddMetadata("authorization", authorization);
  return ctx;
}

/// A Struct from JSON text.
inline google::protobuf::Struct json_struct(const std::string& json) {
  google::protobuf::Struct out;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &out).ok()) << json;
  return out;
}

inline std::string json_of(const google::protobuf::Message& message) {
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(message, &out).ok());
  return out;
}

inline sg::Message message(const std::string& domain, const std::string& channel,
                           const std::string& type, const std::string& body_json = R"({"n":1})") {
  sg::Message m;
  m.set_domain(domain);
  m.set_channel(channel);
  m.set_type(type);
  *m.mutable_body() = json_struct(body_json);
  return m;
}

inline grpc::Status broadcast(sg::PeerService::Stub& stub, const sg::Message& m,
                              const std::string& authorization = std::string("Bearer ") + kToken) {
  google::protobuf::Empty empty;
  return stub.Broadcast(context(authorization).get(), m, &empty);
}

/// One Stream call, read on a thread of its own into a queue the test waits on. The constructor
/// returns once the server has subscribed (its initial metadata arrived), so a Broadcast made
/// after it reaches this subscriber.
class Subscriber {
 public:
  Subscriber(sg::PeerService::Stub& stub, const std::string& domain, const std::string& channel,
             const std::string& type, const std::string& group = "",
             const std::string& authorization = std::string("Bearer ") + kToken) {
    ctx_.set_deadline(std::chrono::system_clock::now() + 60s);
    if (!authorization.empty()) ctx_.AddMetadata("authorization", authorization);
    sg::StreamMessageOpts opts;
    opts.set_domain(domain);
    opts.set_channel(channel);
    opts.set_type(type);
    opts.set_consumer_group(group);
    call_ = stub.Stream(&ctx_, opts);
    call_->WaitForInitialMetadata();
    reader_ = std::thread([this] {
      sg::PeerMessage m;
      while (call_->Read(&m)) {
        std::lock_guard lock(mu_);
        messages_.push_back(m);
        cv_.notify_all();
      }
      std::lock_guard lock(mu_);
      done_ = true;
      cv_.notify_all();
    });
  }
  ~Subscriber() { close(); }

  /// The next message within `timeout`; nullopt on timeout or when the call ended.
  std::optional<sg::PeerMessage> next(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !messages_.empty() || done_; });
    if (messages_.empty()) return std::nullopt;
    auto m = messages_.front();
    messages_.pop_front();
    return m;
  }
  /// Messages received so far and not taken.
  std::size_t queued() {
    std::lock_guard lock(mu_);
    return messages_.size();
  }
  /// Waits for the server to end the call (cancelling it after `timeout`); its status.
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
  void close() {
    if (finished_) return;
    ctx_.TryCancel();
    (void)finish();
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<sg::PeerMessage>> call_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<sg::PeerMessage> messages_;
  bool done_ = false;
  bool finished_ = false;
  grpc::Status status_;
};

inline void set_time(google::protobuf::Timestamp* ts, std::chrono::system_clock::time_point at) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  ts->set_seconds(ns / 1'000'000'000);
  ts->set_nanos(static_cast<int>(ns % 1'000'000'000));
}

/// The services with the static token kToken, on the backend of the test's parameter.
class StategateTest : public ::testing::TestWithParam<Backend> {
 protected:
  Backends backends{GetParam()};
  Server server{backends, rs::Identity({.token = kToken})};
};

}  // namespace rstategate_test
