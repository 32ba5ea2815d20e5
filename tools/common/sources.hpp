#pragma once
// Sources, cursor stores and NATS connections by URI: the one place that knows the schemes, so
// every command accepts the same addresses with the same errors.
//
// `?table=T` on an SQL DSN is reflexctl's parameter (which table to use), not the driver's: it is
// taken off before the DSN reaches reflex::rsql::Database::open. So is `&primary=DSN`
// (percent-encoded) on a PostgreSQL DSN that names a hot standby: its primary, which decides holes
// in the ids for streams reading the standby (rsql::DatabaseOptions::primary_dsn; `--primary`).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "errors.hpp"
#include "reflex/cursor_store.hpp"
#include "reflex/metrics.hpp"
#include "reflex/rsql/rsql.hpp"
#include "reflex/stream.hpp"
#include "reflex/uri.hpp"
#if defined(REFLEX_TOOLS_WITH_NATS)
#include "reflex/rnats/connection.hpp"
#endif

namespace reflex_tools {

/// True for postgresql://, postgres://, mysql://, mariadb://, sqlite://.
[[nodiscard]] bool is_sql(std::string_view uri);
/// True for nats:// and tls:// (NATS over TLS).
[[nodiscard]] bool is_nats(std::string_view uri);

/// Whether a command may create what it opens: a writer (publish, a job's cursor store) may
/// create a missing SQLite file; a reader must not (a mistyped path is a ConfigError naming it,
/// not a new empty database).
enum class Access { read, write };

/// An events table named by `SQL-DSN?table=T` (ConfigError when `table` is missing or invalid),
/// reporting to `metrics` when given.
[[nodiscard]] reflex::rsql::EventsTable open_events_table(
    std::string_view uri, Access access,
    std::shared_ptr<reflex::MetricsObserver> metrics = nullptr);

/// A stream: an SQL events table, `grpc://HOST:PORT` / `grpcs://…`, or
/// `nats://HOST:PORT?stream=S[&subject=X]` (any NATS address, see NatsAddress). Sources are only
/// read: a missing SQLite file is a ConfigError. SQL tables report to `metrics` when given.
[[nodiscard]] reflex::StreamFunc open_source(
    std::string_view uri, std::shared_ptr<reflex::MetricsObserver> metrics = nullptr);

/// Asks a source for its newest event id: an SQL table's head (EventsTable::head), a JetStream
/// stream's last sequence (with ?subject=, the stream's: an upper bound). nullopt when it has
/// none yet. Throws as the source does when it cannot be reached.
using HeadFunc = std::function<std::optional<std::int64_t>()>;

/// The HeadFunc of `uri`; empty for sources that cannot tell (gRPC).
[[nodiscard]] HeadFunc open_head(std::string_view uri);

/// `uri` with `primary` as its `primary=` parameter (what `--primary DSN` does): "" leaves it as
/// it is; a UsageError unless `uri` is a PostgreSQL DSN without one and `primary` is one too.
[[nodiscard]] std::string with_primary(std::string uri, std::string_view primary);

/// `uri` as messages show it: any password or token replaced by "***".
[[nodiscard]] std::string shown(std::string_view uri);

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

/// A job's cursor store (backfill's): the store `uri` names, its failures told as the store's.
///
/// Every failure of get, set and flush is thrown as a CursorStoreFailure "cursor store URI: …"
/// with the store's own exception nested: rpatterns::batch_spec acks in its consumer, which
/// would otherwise be blamed for it.
///
/// Thread-safety: every member may be called from any thread.
class JobCursorStore final : public reflex::CursorStore {
 public:
  /// Opens the store (open_cursor_store with `use`).
  JobCursorStore(std::string uri, CursorStoreUse use);
  [[nodiscard]] std::string get(std::string_view name) override;
  void set(std::string_view name, std::string_view cursor) override;
  void flush() override;
  /// Reads the cursor of `name` from the store's server itself, not what this process holds
  /// (a cursor recorded but not yet written): throws as get() does when the store does not
  /// answer. Whether an outage is over.
  void check(std::string_view name);

 private:
  template <class F>
  auto guarded(F&& f) -> std::invoke_result_t<F&>;

  std::string shown_;
  std::shared_ptr<reflex::CursorStore> store_;
};

#if defined(REFLEX_TOOLS_WITH_NATS)
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
                                                     const std::string& name = program_name());
#endif

}  // namespace reflex_tools
