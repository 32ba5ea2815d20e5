#pragma once
// A fresh events table relayed into a fresh in-memory JetStream stream while it lives: what the
// rows that measure through the relay (L1 via JetStream, L3) set up each run.

#include <unistd.h>

#include <string>
#include <thread>

#include "reflex/rnats/rnats.hpp"
#include "reflex/rsql/rsql.hpp"
#include "scenarios.hpp"

namespace bench {

/// Thread-safety: one thread. Lifetime: `conn` must outlive it; the destructor stops the relay
/// and deletes the stream.
class RelayedTable final {
 public:
  RelayedTable(const Config& cfg, const reflex::rnats::Connection& conn, const std::string& prefix,
               int run)
      : conn_(conn),
        table_(fresh_table(cfg, prefix)),
        stream_("BENCH_" + prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(run)),
        source_(reflex::rsql::Database::open(cfg.pg_dsn), {.schema = {.table = table_}}),
        relay_(conn, options()) {
    relaying_ = std::jthread([this](std::stop_token stop) { relay_.run(stop); });
  }
  ~RelayedTable() {
    relaying_.request_stop();
    relaying_.join();
    reflex::rnats::delete_stream(conn_, stream_);
  }
  RelayedTable(const RelayedTable&) = delete;
  RelayedTable& operator=(const RelayedTable&) = delete;

  [[nodiscard]] const std::string& table() const noexcept { return table_; }
  [[nodiscard]] const std::string& stream() const noexcept { return stream_; }

 private:
  /// Creates the stream (the relay's target) and names it in the relay's options.
  reflex::rnats::RelayOptions options() {
    reflex::rnats::ensure_stream(
        conn_,
        {.name = stream_, .subjects = {stream_ + ".>"}, .storage = reflex::rnats::Storage::memory});
    return {.name = "bench",
            .source = source_.stream_func(),
            .stream = stream_,
            .subject = stream_ + ".events",
            .start_after = ""};
  }

  const reflex::rnats::Connection& conn_;
  const std::string table_;
  const std::string stream_;
  reflex::rsql::EventsTable source_;
  reflex::rnats::Relay relay_;
  std::jthread relaying_;
};

}  // namespace bench
