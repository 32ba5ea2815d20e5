#pragma once
/// Entities that commit with their events: stategate's state gateway (set, edit, revert, get,
/// del, search; the history of every change) on reflex's SQL outbox. Each change writes the
/// entity's row and one event in ONE SQL transaction, so history is never lost or invented; the
/// events are a reflex events table, so any reflex consumer, relay or gRPC client follows them.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/rsql/database.hpp"
#include "reflex/rsql/events_table.hpp"
#include "reflex/rsql/sql.hpp"
#include "reflex/rstate/export.hpp"
#include "reflex/rstate/schema.hpp"

namespace reflex::rstate {

/// True when `name` is a name as stategate's `^\S+$` has it: not empty, and no white space (Go's
/// RE2 \S: not space, \t, \n, \v, \f or \r). Domains, types and keys must be names.
[[nodiscard]] REFLEX_RSTATE_EXPORT bool is_name(std::string_view name) noexcept;

/// Names one entity: its business domain, its type and its key (unique within the type). Each is
/// non-empty with no white space (stategate's `^\S+$`), and the three joined as
/// `domain/type/key` (the event's foreign id) fit in 255 bytes.
struct EntityRef {
  std::string domain{};
  std::string type{};
  std::string key{};

  friend bool operator==(const EntityRef&, const EntityRef&) = default;
};

/// An entity's current state.
struct Entity {
  EntityRef ref{};
  /// A JSON object (text).
  std::string values{"{}"};
  /// 1 when created, +1 with every change since (a deleted and re-created entity starts again).
  std::int64_t version = 0;
  /// When it last changed, nanoseconds since the Unix epoch.
  std::int64_t updated_ns = 0;
};

/// What a change was: the event's type in the events table.
enum class Method : int { set = 1, edit = 2, revert = 3, del = 4 };
[[nodiscard]] REFLEX_RSTATE_EXPORT std::string_view to_string(Method method) noexcept;

/// One change of one entity, as recorded: the event. Its `metadata` in the events table is the
/// stategate Event in proto3 JSON (`{"id", "entity": {domain, type, key, values}, "method",
/// "claims", "time"}`), so any consumer of the events table reads the change without rstate.
struct EntityEvent {
  /// A version 4 UUID (stategate's event id).
  std::string id{};
  /// The event's id in the events table (a reflex cursor).
  std::string event_id{};
  /// The entity after the change; for a del, its values before it (so history can restore it).
  Entity entity{};
  Method method = Method::set;
  /// The name the change is recorded under: Change::method_name, or to_string(method).
  std::string method_name{};
  /// Who made it: the caller's verified claims, a JSON object (text).
  std::string claims{"{}"};
  /// When, nanoseconds since the Unix epoch.
  std::int64_t time_ns = 0;
};

/// Who makes a change and under which conditions.
struct Change {
  /// The caller's verified claims, a JSON object (text), recorded in the event.
  std::string claims{"{}"};
  /// The method name recorded in the event (stategate records the gRPC method, e.g.
  /// "/stategate.EntityService/Set"); empty: to_string of the operation's Method.
  std::string method_name{};
  /// Optimistic concurrency: the change is made only when the entity's version is this (0: it
  /// must not exist); otherwise VersionConflict and nothing is written. Unset: no condition.
  std::optional<std::int64_t> expected_version{};
};

/// How a search sorts: by a field of the values (dots reach nested keys: "address.city"); empty:
/// by key (entities) or by time (events).
struct Sort {
  std::string field{};
  bool reverse = false;
};

/// Entities of one domain and type whose values match `filter`.
struct EntityQuery {
  std::string domain{};
  std::string type{};
  /// A JSON object of `"key": value` pairs the values must equal (dots reach nested keys, as in
  /// stategate's query_string); empty or "{}": every entity.
  std::string filter{};
  Sort sort{};
  /// At most this many (1 to 10000).
  int limit = 100;
  int offset = 0;
};

/// Events of one domain and type (and optionally one key) in a time range.
struct EventQuery {
  std::string domain{};
  std::string type{};
  /// Empty: every key.
  std::string key{};
  /// Matched against the entity's values after each change, as EntityQuery::filter; keys may
  /// also be written from the event, as stategate does: "entity.values.status".
  std::string filter{};
  /// Only events after `min_ns` and before `max_ns` (nanoseconds since the Unix epoch; 0: no
  /// bound).
  std::int64_t min_ns = 0;
  std::int64_t max_ns = 0;
  /// A field of the values, or "time"; empty: oldest first (reverse: newest first).
  Sort sort{};
  int limit = 100;
  int offset = 0;
};

struct EntitiesOptions {
  EntitiesSchema schema{};
  /// Values larger than this (bytes of JSON) are refused (ConfigError) before anything is
  /// written.
  std::size_t max_values_bytes = 1 << 20;
  /// A change that meets a deadlock, a serialization failure or (MariaDB) an event id taken by a
  /// reader's hole probe runs again, up to this many times in all, on transactions of rstate's
  /// own (on the caller's, the error is the caller's).
  int attempts = 5;
};

/// What a change on the caller's transaction returns: the event written, and the notifier to
/// call after the caller commits (it wakes the events table's streams at once).
struct Written {
  EntityEvent event;
  rsql::Notifier notify;
};

/// The entities of a database and their events table.
///
/// Each change (set, edit, revert, del) is one SQL transaction holding the entity's row and its
/// event: on rstate's own pooled connections (the overloads without a transaction; edits of one
/// entity are serialized by its row lock, so concurrent edits lose nothing), or on the caller's
/// own transaction (the overloads taking one, like rsql::EventsTable::insert: a
/// `pqxx::transaction_base&`, a `sql::Connection&` with autocommit off or a `sqlite3*` inside
/// BEGIN … COMMIT, with `<reflex/rsql/postgres.hpp>`, `mysql.hpp` or `sqlite.hpp` included), so a
/// service changes its own tables, an entity and its event atomically.
///
/// Bad input is refused with a ConfigError before anything is written: a name empty or with
/// white space, values that are not a JSON object or exceed max_values_bytes, a bad filter, a
/// revert to an event of another entity. A missing table is a rsql::SchemaError naming it and
/// `entities_ddl`. A missing entity or event is NotFound; a failed expected version
/// VersionConflict (errors.hpp).
///
/// Thread-safety: every member may be called from several threads at once. Lifetime: a handle;
/// copies share the database and the events table.
class REFLEX_RSTATE_EXPORT Entities final {
 public:
  /// Validates the schema names (ConfigError); does not connect (check() does).
  explicit Entities(std::shared_ptr<rsql::Database> database, EntitiesOptions options = {});

  /// Connects and checks that both tables and their columns exist (SchemaError otherwise).
  void check() const;

  /// Replaces the entity's values (creating it when absent).
  EntityEvent set(const EntityRef& ref, std::string_view values, const Change& change = {}) const;
  /// Merges `values` into the entity's (each given top-level key replaces the stored one); returns
  /// the entity after. NotFound when there is no such entity.
  Entity edit(const EntityRef& ref, std::string_view values, const Change& change = {}) const;
  /// Sets the entity to its values after its event `event_id` (a version 4 UUID; for a del
  /// event, the values it deleted): itself a change, with its own event. NotFound when the
  /// entity has no such event.
  Entity revert(const EntityRef& ref, std::string_view event_id, const Change& change = {}) const;
  /// Removes the entity's current state; its event keeps the last values. NotFound when absent.
  EntityEvent del(const EntityRef& ref, const Change& change = {}) const;

  /// On the caller's open transaction: the same changes; call `notify` of the result after the
  /// commit.
  template <class Transaction>
  Written set(Transaction&& transaction, const EntityRef& ref, std::string_view values,
              const Change& change = {}) const;
  template <class Transaction>
  Written edit(Transaction&& transaction, const EntityRef& ref, std::string_view values,
               const Change& change = {}) const;
  template <class Transaction>
  Written revert(Transaction&& transaction, const EntityRef& ref, std::string_view event_id,
                 const Change& change = {}) const;
  template <class Transaction>
  Written del(Transaction&& transaction, const EntityRef& ref, const Change& change = {}) const;

  /// The entity's current state, or nullopt.
  [[nodiscard]] std::optional<Entity> get(const EntityRef& ref) const;
  /// Entities of a domain and type matching the query, evaluated in SQL (PostgreSQL: jsonb
  /// containment on a GIN index; MariaDB and SQLite: JSON functions over the rows of that domain
  /// and type, found by the primary key).
  [[nodiscard]] std::vector<Entity> search(const EntityQuery& query) const;
  /// The history: events matching the query, evaluated in SQL on the events table's indexes.
  [[nodiscard]] std::vector<EntityEvent> search_events(const EventQuery& query) const;
  /// One event of an entity, or nullopt.
  [[nodiscard]] std::optional<EntityEvent> get_event(const EntityRef& ref,
                                                     std::string_view event_id) const;

  /// The events table: stream it, relay it, serve it like any reflex outbox.
  [[nodiscard]] const rsql::EventsTable& events() const noexcept;
  [[nodiscard]] const std::shared_ptr<rsql::Database>& database() const noexcept;
  [[nodiscard]] const EntitiesOptions& options() const noexcept;

  /// The change itself, on statements of an open transaction (what every overload runs; for
  /// modules that hold an rsql::Sql already). Returns the event and the entity after.
  std::pair<EntityEvent, Entity> apply(rsql::Sql& sql, Method method, const EntityRef& ref,
                                       std::string_view argument, const Change& change) const;

  struct Impl;

 private:
  Written on_callers(rsql::Sql& sql, Method method, const EntityRef& ref, std::string_view argument,
                     const Change& change) const;
  std::shared_ptr<const Impl> impl_;
};

template <class Transaction>
Written Entities::set(Transaction&& transaction, const EntityRef& ref, std::string_view values,
                      const Change& change) const {
  auto sql = sql_on(*database(), std::forward<Transaction>(transaction));
  return on_callers(*sql, Method::set, ref, values, change);
}

template <class Transaction>
Written Entities::edit(Transaction&& transaction, const EntityRef& ref, std::string_view values,
                       const Change& change) const {
  auto sql = sql_on(*database(), std::forward<Transaction>(transaction));
  return on_callers(*sql, Method::edit, ref, values, change);
}

template <class Transaction>
Written Entities::revert(Transaction&& transaction, const EntityRef& ref, std::string_view event_id,
                         const Change& change) const {
  auto sql = sql_on(*database(), std::forward<Transaction>(transaction));
  return on_callers(*sql, Method::revert, ref, event_id, change);
}

template <class Transaction>
Written Entities::del(Transaction&& transaction, const EntityRef& ref, const Change& change) const {
  auto sql = sql_on(*database(), std::forward<Transaction>(transaction));
  return on_callers(*sql, Method::del, ref, {}, change);
}

}  // namespace reflex::rstate
