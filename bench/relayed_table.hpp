#pragma once
// A fresh events table relayed into a fresh in-memory JetStream stream while it lives: what the
// rows that measure through the relay (L1 via JetStream, L3 and its floor) set up each run.

#include <unistd.h>

#include <exception>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "reflex/rnats/rnats.hpp"
#include "reflex/rsql/rsql.hpp"
#include "scenarios.hpp"

namespace bench {

/// Runs a RelayedTable's relay by hand instead of reflex's (L3's floor): called on the relaying
/// thread with the table and the stream; returns once `stop` is requested.
using HandWrittenRelay =
    std::function<void(std::stop_token stop, const std::string& table, const std::string& stream)>;

/// Thread-safety: one thread. Lifetime: `conn` must outlive it; the destructor stops the relay
/// and deletes the stream.
class RelayedTable final {
 public:
  RelayedTable(const Config& cfg, const reflex::rnats::Connection& conn, const std::string& prefix,
               int run, HandWrittenRelay hand_written = {})
      : conn_(conn),
        table_(fresh_table(cfg, prefix)),
        stream_("BENCH_" + prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(run)) {
    reflex::rnats::ensure_stream(
        conn_,
        {.name = stream_, .subjects = {stream_ + ".>"}, .storage = reflex::rnats::Storage::memory});
    if (hand_written) {
      relaying_ = std::jthread([this, relay = std::move(hand_written)](std::stop_token stop) {
        try {
          relay(stop, table_, stream_);
        } catch (const std::exception& e) {
          log(std::string("hand-written relay: ") + e.what());  // the events never arrive
        }
      });
      return;
    }
    source_.emplace(reflex::rsql::Database::open(cfg.pg_dsn),
                    reflex::rsql::EventsTableOptions{.schema = {.table = table_}});
    relay_.emplace(conn, reflex::rnats::RelayOptions{.name = "bench",
                                                     .source = source_->stream_func(),
                                                     .stream = stream_,
                                                     .subject = stream_ + ".events",
                                                     .start_after = ""});
    relaying_ = std::jthread([this](std::stop_token stop) { relay_->run(stop); });
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
  const reflex::rnats::Connection& conn_;
  const std::string table_;
  const std::string stream_;
  std::optional<reflex::rsql::EventsTable> source_;
  std::optional<reflex::rnats::Relay> relay_;
  std::jthread relaying_;
};

}  // namespace bench
