#pragma once
// JetStream streams and KV buckets of one test's own, on the test server. Header-only and for
// tests that link reflex::rnats: the support library itself does not depend on it.

#include <string>
#include <utility>

#include "reflex/rnats/rnats.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test {

/// A connection to the test server (REFLEX_TEST_NATS_URL); fails the test when unset. Connects
/// before it returns (nats.c's connect timeout bounds it).
inline reflex::rnats::Connection connect(const std::string& name = "reflex-rnats-tests") {
  return reflex::rnats::Connection(
      reflex::rnats::ConnectOptions{.url = required_env("REFLEX_TEST_NATS_URL"), .name = name});
}

/// A JetStream stream that is deleted at the end of the test (a failed delete is ignored). Its
/// subjects are "<name>.>". Each call is one request to the server.
class TempStream {
 public:
  /// An in-memory stream with a unique name.
  explicit TempStream(reflex::rnats::Connection conn)
      : TempStream(std::move(conn), {.storage = reflex::rnats::Storage::memory}) {}
  /// A stream as configured; a unique name and subjects "<name>.>" when unset.
  TempStream(reflex::rnats::Connection conn, reflex::rnats::StreamConfig config)
      : conn_(std::move(conn)) {
    if (config.name.empty()) config.name = unique_name("S");
    if (config.subjects.empty()) config.subjects = {config.name + ".>"};
    name_ = config.name;
    reflex::rnats::ensure_stream(conn_, config);
  }
  ~TempStream() {
    try {
      reflex::rnats::delete_stream(conn_, name_);
    } catch (...) {
    }
  }
  TempStream(const TempStream&) = delete;
  TempStream& operator=(const TempStream&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::string subject(const std::string& leaf = "x") const {
    return name_ + "." + leaf;
  }

 private:
  reflex::rnats::Connection conn_;
  std::string name_;
};

/// A KV bucket (in memory, unique name) that is deleted at the end of the test (a failed delete
/// is ignored). Each call is one request to the server.
class TempBucket {
 public:
  explicit TempBucket(const reflex::rnats::Connection& conn, int history = 1)
      : conn_(conn),
        store_(
            reflex::rnats::StateStore::ensure(conn, {.name = unique_name("KV"),
                                                     .history = history,
                                                     .storage = reflex::rnats::Storage::memory})) {}
  ~TempBucket() {
    try {
      reflex::rnats::StateStore::remove(conn_, store_.bucket());
    } catch (...) {
    }
  }
  TempBucket(const TempBucket&) = delete;
  TempBucket& operator=(const TempBucket&) = delete;

  reflex::rnats::StateStore& operator*() { return store_; }
  reflex::rnats::StateStore* operator->() { return &store_; }
  [[nodiscard]] const reflex::rnats::Connection& connection() const { return conn_; }

 private:
  reflex::rnats::Connection conn_;
  reflex::rnats::StateStore store_;
};

}  // namespace reflex_test
