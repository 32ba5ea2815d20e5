#pragma once
// Sources and cursor stores by URI: one place that knows the schemes, so every subcommand
// accepts the same addresses with the same errors.

#include <memory>
#include <string>
#include <string_view>

#include "reflex/cursor_store.hpp"
#include "reflex/metrics.hpp"
#include "reflex/rsql/rsql.hpp"
#include "reflex/stream.hpp"

namespace reflexctl {

/// True for postgresql://, postgres://, mysql://, mariadb://, sqlite://.
[[nodiscard]] bool is_sql(std::string_view uri);

/// An events table named by `SQL-DSN?table=T` (ConfigError when `table` is missing or invalid),
/// reporting to `metrics` when given.
[[nodiscard]] reflex::rsql::EventsTable open_events_table(
    std::string_view uri, std::shared_ptr<reflex::MetricsObserver> metrics = nullptr);

/// A stream: an SQL events table, `grpc://HOST:PORT` / `grpcs://…`, or
/// `nats://HOST:PORT?stream=S[&subject=X]`.
/// SQL tables report to `metrics` when given.
[[nodiscard]] reflex::StreamFunc open_source(
    std::string_view uri, std::shared_ptr<reflex::MetricsObserver> metrics = nullptr);

/// A cursors table named by `SQL-DSN?table=T`, or a KV bucket `nats://HOST:PORT?bucket=B`.
/// Cursor writes are synchronous. A missing KV bucket is created when `create`, else a
/// ConfigError (an operator inspecting cursors has mistyped it).
[[nodiscard]] std::shared_ptr<reflex::CursorStore> open_cursor_store(std::string_view uri,
                                                                     bool create = true);

}  // namespace reflexctl
