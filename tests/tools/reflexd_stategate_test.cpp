// reflexd as stategate's clients see it, through code generated from our stategate proto: its
// PeerService, CacheService and MutexService healthy and listed by reflection and serving every
// RPC, on NATS (KV buckets created on demand) and on a database only (cache and mutex in its
// tables, peer messages in-process); the shared token required (UNAUTHENTICATED without it)
// unless STATEGATE_AUTH_DISABLED; an open peer Stream ended by SIGTERM.

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <reflex/proto/stategate/schema.grpc.pb.h>
#include <signal.h>

#include <fstream>

#include "reflex/rgrpc/client.hpp"
#include "reflex/rnats/rnats.hpp"
#include "reflex_test/wait.hpp"
#include "reflexd_harness.hpp"

namespace {

using namespace reflexd_test;
namespace sg = ::stategate;

constexpr const char* kToken = "reflexd-stategate-token";
const std::vector<std::string> kServices = {"stategate.PeerService", "stategate.CacheService",
                                            "stategate.MutexService"};

std::unique_ptr<grpc::ClientContext> call(bool with_token = true,
                                          std::chrono::milliseconds timeout = 5s) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  if (with_token) ctx->AddMetadata("authorization", std::string("Bearer ") + kToken);
  return ctx;
}

/// A stategate client of one reflexd.
struct Client {
  explicit Client(const std::string& target)
      : channel(reflex::rgrpc::make_channel({.target = target})),
        peer(sg::PeerService::NewStub(channel)),
        cache(sg::CacheService::NewStub(channel)),
        mutex(sg::MutexService::NewStub(channel)) {}

  grpc::Status broadcast(const std::string& domain, const std::string& text,
                         bool with_token = true) {
    sg::Message m;
    m.set_domain(domain);
    m.set_channel("general");
    m.set_type("said");
    (*m.mutable_body()->mutable_fields())["text"].set_string_value(text);
    google::protobuf::Empty empty;
    return peer->Broadcast(call(with_token).get(), m, &empty);
  }

  /// Set, Get, Del of a cache value and Lock, Lock again, Unlock, Unlock again of a mutex, each
  /// on keys of their own; every status as expected.
  void every_cache_and_mutex_rpc(const std::string& key, bool with_token = true) {
    google::protobuf::Empty empty;
    sg::Cache value;
    value.set_domain("reflexd");
    value.set_key(key);
    value.mutable_value()->set_string_value("cached");
    ASSERT_TRUE(cache->Set(call(with_token).get(), value, &empty).ok());
    sg::CacheRef ref;
    ref.set_domain("reflexd");
    ref.set_key(key);
    sg::Cache got;
    ASSERT_TRUE(cache->Get(call(with_token).get(), ref, &got).ok());
    EXPECT_EQ(got.value().string_value(), "cached");
    ASSERT_TRUE(cache->Del(call(with_token).get(), ref, &empty).ok());
    EXPECT_EQ(cache->Get(call(with_token).get(), ref, &got).error_code(),
              grpc::StatusCode::NOT_FOUND);

    sg::Mutex lock;
    lock.set_domain("reflexd");
    lock.set_key(key);
    ASSERT_TRUE(mutex->Lock(call(with_token).get(), lock, &empty).ok());
    EXPECT_EQ(mutex->Lock(call(with_token).get(), lock, &empty).error_code(),
              grpc::StatusCode::ALREADY_EXISTS);
    sg::MutexRef unlock;
    unlock.set_domain("reflexd");
    unlock.set_key(key);
    ASSERT_TRUE(mutex->Unlock(call(with_token).get(), unlock, &empty).ok());
    EXPECT_EQ(mutex->Unlock(call(with_token).get(), unlock, &empty).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<sg::PeerService::Stub> peer;
  std::unique_ptr<sg::CacheService::Stub> cache;
  std::unique_ptr<sg::MutexService::Stub> mutex;
};

/// An open peer Stream of every message of `domain`; returns once reflexd has subscribed.
struct PeerStream {
  PeerStream(Client& client, const std::string& domain, bool with_token = true)
      : ctx(call(with_token, 30s)) {
    sg::StreamMessageOpts opts;
    opts.set_domain(domain);
    opts.set_channel("*");
    opts.set_type("*");
    reader = client.peer->Stream(ctx.get(), opts);
    reader->WaitForInitialMetadata();
  }
  std::optional<sg::PeerMessage> next() {
    sg::PeerMessage m;
    if (!reader->Read(&m)) return std::nullopt;
    return m;
  }
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientReader<sg::PeerMessage>> reader;
};

class ReflexdStategate : public ReflexdTest {
 protected:
  std::string token_file() {
    const auto file = dir.path() / "token";
    std::ofstream(file) << kToken << "\n";
    return file.string();
  }
};

TEST_F(ReflexdStategate, OnNatsServesEveryRpcHealthyAndListedWithTheToken) {
  const std::string url = reflex_test::required_env("REFLEX_TEST_NATS_URL");
  Reflexd daemon({}, {"NATS_URL=" + url, "REFLEX_TOKEN_FILE=" + token_file(),
                      "REFLEX_LISTEN=127.0.0.1:0", "REFLEX_HTTP=127.0.0.1:0"});
  ASSERT_TRUE(daemon.started()) << daemon.err();
  EXPECT_NE(daemon.err().find(R"("stategate":"nats")"), std::string::npos) << daemon.err();
  Client client(daemon.grpc());
  for (const auto& name : kServices) {
    EXPECT_TRUE(reflex_test::eventually(
        [&] { return rgrpc_test::health_check(client.channel, name) == 1; }, 5s))
        << name;
  }
  const auto listing = reflection_list(client.channel);
  for (const auto& name : kServices) EXPECT_NE(listing.find(name), std::string::npos) << listing;

  // Peer: a broadcast reaches an open stream, over NATS.
  const std::string domain = reflex_test::unique_name("reflexd");
  PeerStream stream(client, domain);
  ASSERT_TRUE(client.broadcast(domain, "hello").ok());
  const auto m = stream.next();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body().fields().at("text").string_value(), "hello");
  stream.ctx->TryCancel();

  // Cache and mutex, in the default buckets, created on demand.
  client.every_cache_and_mutex_rpc(reflex_test::unique_name("key"));
  const reflex::rnats::Connection nats(url);
  EXPECT_NO_THROW((void)reflex::rnats::StateStore::open(nats, "stategate-cache"));
  EXPECT_NO_THROW((void)reflex::rnats::StateStore::open(nats, "stategate-mutex"));

  // Without the token: UNAUTHENTICATED.
  EXPECT_EQ(client.broadcast(domain, "anonymous", false).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  sg::CacheRef ref;
  ref.set_domain("reflexd");
  ref.set_key("k");
  sg::Cache got;
  EXPECT_EQ(client.cache->Get(call(false).get(), ref, &got).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ReflexdStategate, WithADatabaseAndNoNatsServesInProcessAndAuthCanBeDisabled) {
  Reflexd daemon({}, {"REFLEX_DATABASE=sqlite://" + path, "STATEGATE_AUTH_DISABLED=true",
                      "REFLEX_LISTEN=127.0.0.1:0", "REFLEX_HTTP=127.0.0.1:0"});
  ASSERT_TRUE(daemon.started()) << daemon.err();
  EXPECT_NE(daemon.err().find(R"("stategate":"sql")"), std::string::npos) << daemon.err();
  Client client(daemon.grpc());
  for (const auto& name : kServices) {
    EXPECT_EQ(rgrpc_test::health_check(client.channel, name), 1) << name;
  }
  // No token needed.
  PeerStream stream(client, "local", false);
  ASSERT_TRUE(client.broadcast("local", "in-process", false).ok());
  const auto m = stream.next();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body().fields().at("text").string_value(), "in-process");
  EXPECT_EQ(m->claims().fields_size(), 0);
  stream.ctx->TryCancel();
  client.every_cache_and_mutex_rpc("key", false);
}

TEST_F(ReflexdStategate, WithoutATokenOrAuthDisabledEveryCallIsRefusedAndAWarningSaysWhy) {
  Reflexd daemon({}, {"REFLEX_DATABASE=sqlite://" + path, "REFLEX_LISTEN=127.0.0.1:0",
                      "REFLEX_HTTP=127.0.0.1:0"});
  ASSERT_TRUE(daemon.started()) << daemon.err();
  Client client(daemon.grpc());
  EXPECT_EQ(client.broadcast("local", "x").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(daemon.err().find("STATEGATE_AUTH_DISABLED"), std::string::npos) << daemon.err();
}

/// The drain ends an open stream at once and exits: well within the drain timeout (10 s), and
/// not held up by a client that, its stream over, reads nothing more (a C++ client answers
/// gRPC's GOAWAY ping only at its next backup poll, 5 s on, unless it is told while a call of its
/// is open).
TEST_F(ReflexdStategate, SigtermEndsAnOpenPeerStreamWithUnavailable) {
  Reflexd daemon({}, {"REFLEX_DATABASE=sqlite://" + path, "REFLEX_TOKEN_FILE=" + token_file(),
                      "REFLEX_LISTEN=127.0.0.1:0", "REFLEX_HTTP=127.0.0.1:0"});
  ASSERT_TRUE(daemon.started()) << daemon.err();
  Client client(daemon.grpc());
  PeerStream stream(client, "local");
  const auto before = std::chrono::steady_clock::now();
  daemon.signal(SIGTERM);
  EXPECT_FALSE(stream.next());
  const auto status = stream.reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(daemon.wait(15s), 0) << daemon.err();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 2s);
}

/// The same for the EventService's Stream on the database: its reader of the events table stops
/// with the drain.
TEST_F(ReflexdStategate, SigtermEndsAnOpenEventStreamWithUnavailable) {
  Reflexd daemon({}, {"REFLEX_DATABASE=sqlite://" + path, "REFLEX_TOKEN_FILE=" + token_file(),
                      "REFLEX_LISTEN=127.0.0.1:0", "REFLEX_HTTP=127.0.0.1:0"});
  ASSERT_TRUE(daemon.started()) << daemon.err();
  Client client(daemon.grpc());
  const auto events = sg::EventService::NewStub(client.channel);
  const auto ctx = call(true, 30s);
  sg::StreamEventOpts opts;
  opts.set_domain("*");
  opts.set_type("*");
  const auto reader = events->Stream(ctx.get(), opts);
  reader->WaitForInitialMetadata();  // subscribed: the reader of the events table runs
  const auto before = std::chrono::steady_clock::now();
  daemon.signal(SIGTERM);
  sg::Event event;
  EXPECT_FALSE(reader->Read(&event));
  const auto status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(daemon.wait(15s), 0) << daemon.err();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 2s);
}

}  // namespace
