#pragma once
// Sources, cursor stores and NATS connections by URI: the one place that knows the schemes, so
// every command accepts the same addresses with the same errors.
//
// `?table=T` on an SQL DSN is reflexctl's parameter (which table to use), not the driver's: it is
// taken off before the DSN reaches reflex::rsql::Database::open.

#include <memory>
#include <string>
#include <string_view>

#include "reflex/cursor_store.hpp"
#include "reflex/metrics.hpp"
#include "reflex/rsql/rsql.hpp"
#include "reflex/stream.hpp"
#include "reflex/uri.hpp"
#if defined(REFLEXCTL_WITH_NATS)
#include "reflex/rnats/connection.hpp"
#endif

namespace reflexctl {

/// True for postgresql://, postgres://, mysql://, mariadb://, sqlite://.
[[nodiscard]] bool is_sql(std::string_view uri);
/// True for nats:// and tls:// (NATS over TLS).
[[nodiscard]] bool is_nats(std::string_view uri);

/// An events table named by `SQL-DSN?table=T` (ConfigError when `table` is missing or invalid),
/// reporting to `metrics` when given.
[[nodiscard]] reflex::rsql::EventsTable open_events_table(
    std::string_view uri, std::shared_ptr<reflex::MetricsObserver> metrics = nullptr);

/// A stream: an SQL events table, `grpc://HOST:PORT` / `grpcs://…`, or
/// `nats://HOST:PORT?stream=S[&subject=X]` (any NATS address, see NatsAddress).
/// SQL tables report to `metrics` when given.
[[nodiscard]] reflex::StreamFunc open_source(
    std::string_view uri, std::shared_ptr<reflex::MetricsObserver> metrics = nullptr);

/// How a command uses a cursor store.
struct CursorStoreUse {
  /// Write the latest cursor every second and at the end (a relay: its position is the stream's
  /// anyway), not at every set.
  bool buffered = false;
  /// Create a missing KV bucket (a job's first run); else a missing bucket is a ConfigError (an
  /// operator inspecting cursors has mistyped it).
  bool create = true;
};

/// A cursors table named by `SQL-DSN?table=T`, or a KV bucket `nats://HOST:PORT?bucket=B`.
[[nodiscard]] std::shared_ptr<reflex::CursorStore> open_cursor_store(std::string_view uri,
                                                                     CursorStoreUse use);

#if defined(REFLEXCTL_WITH_NATS)
/// A NATS address as reflexctl takes it: the servers as the URL gives them (user and password or
/// a token, `tls://`, several comma-separated servers of one cluster), then reflexctl's own query
/// parameters, e.g. `nats://u:p@10.0.0.1:4222,nats://u:p@10.0.0.2:4222?stream=ORDERS`.
struct NatsAddress {
  /// Everything before the '?': what reflex::rnats::ConnectOptions::url takes.
  std::string servers;
  /// The first server with the query, for param()/check_params() and for messages (redacted()).
  reflex::Uri uri;
};

/// Splits a NATS address; ConfigError when it is malformed.
[[nodiscard]] NatsAddress parse_nats_address(std::string_view text);

/// Connects to the servers of `address` (client name `name`), credentials and TLS as given.
[[nodiscard]] reflex::rnats::Connection connect_nats(const NatsAddress& address,
                                                     const std::string& name = "reflexctl");
#endif

}  // namespace reflexctl
