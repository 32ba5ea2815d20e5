#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "reflex/rnats/connection.hpp"
#include "reflex/rnats/export.hpp"
#include "reflex/stream.hpp"

namespace reflex::rnats {

/// What a JetStream source does with a cursor the stream cannot continue from exactly.
enum class StaleCursor {
  /// Throw CursorError saying what happened and how to recover (the default: an operator decides
  /// whether losing events is acceptable).
  fail,
  /// Skip ahead: an expired cursor (below the first retained message) continues at the first
  /// retained message; a future cursor (beyond the last message: the stream was recreated)
  /// continues with the next message published.
  skip_ahead,
};

/// Which stream a JetStream source reads and how.
struct SourceOptions {
  /// The stream's name.
  std::string stream{};
  /// Only messages on this subject (wildcards allowed); "" reads every subject of the stream.
  std::string filter_subject{};
  /// See StaleCursor. Detection looks at the whole stream: with a filter subject, a cursor below
  /// the first retained message counts as expired even when none of the lost messages matched.
  StaleCursor on_stale_cursor = StaleCursor::fail;
  /// Messages handed over ahead of recv(). Behind them nats.c holds what the server has sent
  /// within its flow-control window (at most 32 MiB per source); the server waits beyond that.
  /// No message is ever dropped on the client to bound memory.
  std::size_t buffer = 1024;
  /// Idle heartbeat of the ordered consumer: after a server restart or lost consumer, nats.c
  /// notices within about two heartbeats and recreates the consumer after the last delivered
  /// message.
  std::chrono::milliseconds heartbeat{std::chrono::seconds(1)};
};

/// JetStream as a reflex source. Cursors are stream sequences (decimal); each stream opens an
/// ordered push consumer starting after the cursor, so messages arrive in stream order without
/// gaps or duplicates. Events are mapped back as the relay wrote them (see codec.hpp): the id is
/// the stream sequence, the payload is the metadata; a message without reflex headers becomes an
/// event of type 0 stamped with its store time. from_head, to_head (HeadReached once nothing is
/// pending, also at once when nothing was pending at open) and lag are honoured; `remaining()`
/// reports the messages pending after the last one returned.
///
/// Before subscribing, the cursor is checked against the stream: below the first retained
/// message (purged or aged out) or beyond the last one (stream recreated), the open fails with
/// CursorError unless `on_stale_cursor` is skip_ahead. A cursor that is not a decimal sequence is
/// a CursorError; a missing stream is NotFound.
///
/// Thread-safety: the StreamFunc may be called from any thread; each client is used by one
/// reader at a time. Lifetime: clients keep the connection alive; destroying a client deletes
/// its consumer.
[[nodiscard]] REFLEX_RNATS_EXPORT StreamFunc stream_func(Connection connection,
                                                         SourceOptions options);

}  // namespace reflex::rnats
