#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "reflex/rstate/entities.hpp"
#include "reflex/rstategate/export.hpp"
#include "reflex/rstategate/identity.hpp"

namespace grpc {
class Service;
}  // namespace grpc

// stategate's EntityService and EventService on reflex::rstate: each change commits the entity
// and its event in one SQL transaction, and the events table is a reflex outbox the EventService
// streams from.

namespace reflex::rstategate {

namespace detail {
class EntityServiceImpl;
class EventServiceImpl;
}  // namespace detail

/// stategate.EntityService on rstate::Entities: Set, Edit (returns the entity after), Revert (to
/// any earlier event of the entity), Get, Del and Search, each checked by `identity`
/// (UNAUTHENTICATED) and validated as stategate's rules say (INVALID_ARGUMENT naming the field)
/// before anything is written. The caller's claims and the gRPC method are recorded in the event.
/// A call may carry metadata `x-expected-version: N` (optimistic concurrency, which stategate
/// lacks): the change is made only at that version (0: the entity must not exist), else
/// FAILED_PRECONDITION and nothing is written. Missing entities and events are NOT_FOUND; a
/// missing table FAILED_PRECONDITION naming the DDL helper; a database that cannot be reached
/// UNAVAILABLE.
///
/// Thread-safety: every member from any thread. Lifetime: must outlive the grpc::Server it is
/// registered with.
class REFLEX_RSTATEGATE_EXPORT EntityService final {
 public:
  static constexpr std::string_view name = "stategate.EntityService";

  EntityService(rstate::Entities entities, Identity identity);
  ~EntityService();
  EntityService(const EntityService&) = delete;
  EntityService& operator=(const EntityService&) = delete;

  /// The service to register with grpc::ServerBuilder::RegisterService.
  [[nodiscard]] grpc::Service* service() noexcept;
  /// Refuses further calls with UNAVAILABLE "server shutting down". Idempotent.
  void shutdown();

 private:
  std::unique_ptr<detail::EntityServiceImpl> impl_;
};

/// Options of the EventService.
struct EventServiceOptions {
  /// Events a Stream holds for a client that does not read them; a client further behind is cut
  /// off with RESOURCE_EXHAUSTED (rather than the server buffering without bound or skipping).
  std::size_t stream_buffer = 4096;
};

/// stategate.EventService on the entities' events table: Stream sends every change committed
/// after the call started whose domain and type match its glob patterns (`*` any run of
/// characters, `?` one); the members of one consumer group (same group, same patterns) share
/// the stream, each event to one of them in turn. One reader of the events table feeds every
/// stream of this server. Search and Get read the history in SQL.
///
/// Thread-safety: every member from any thread. Lifetime: must outlive the grpc::Server it is
/// registered with; its reader thread ends with shutdown() or the destructor.
class REFLEX_RSTATEGATE_EXPORT EventService final {
 public:
  static constexpr std::string_view name = "stategate.EventService";

  EventService(rstate::Entities entities, Identity identity, EventServiceOptions options = {});
  ~EventService();
  EventService(const EventService&) = delete;
  EventService& operator=(const EventService&) = delete;

  [[nodiscard]] grpc::Service* service() noexcept;
  /// Ends open Streams with UNAVAILABLE "server shutting down" and refuses further calls.
  void shutdown();

 private:
  std::unique_ptr<detail::EventServiceImpl> impl_;
};

/// Whether `text` matches `pattern`, where `*` matches any run of characters and `?` one.
[[nodiscard]] REFLEX_RSTATEGATE_EXPORT bool glob_match(std::string_view pattern,
                                                       std::string_view text) noexcept;

}  // namespace reflex::rstategate
