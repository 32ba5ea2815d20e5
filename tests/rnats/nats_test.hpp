#pragma once

#include <chrono>
#include <string>

#include "reflex/rnats/rnats.hpp"
#include "reflex_test/env.hpp"
#include "reflex_test/wait.hpp"

namespace rnats_test {

using namespace std::chrono_literals;

/// A connection to the test server (REFLEX_TEST_NATS_URL); fails the test when unset.
inline reflex::rnats::Connection connect() {
  return reflex::rnats::Connection(reflex::rnats::ConnectOptions{
      .url = reflex_test::required_env("REFLEX_TEST_NATS_URL"), .name = "reflex-rnats-tests"});
}

/// A stream that is deleted at the end of the test. Its subjects are "<name>.>".
class TempStream {
 public:
  /// An in-memory stream with a unique name.
  explicit TempStream(reflex::rnats::Connection conn)
      : TempStream(std::move(conn), {.storage = reflex::rnats::Storage::memory}) {}
  /// A stream as configured; a unique name and subjects "<name>.>" when unset.
  TempStream(reflex::rnats::Connection conn, reflex::rnats::StreamConfig config)
      : conn_(std::move(conn)) {
    if (config.name.empty()) config.name = reflex_test::unique_name("S");
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

using reflex_test::eventually;

}  // namespace rnats_test
