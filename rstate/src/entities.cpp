// The entity operations, written once for every dialect on rsql::Sql: each change reads the
// entity's row under a lock (SELECT … FOR UPDATE; SQLite's own transactions hold the write lock
// from their BEGIN), writes the row, then the event, in the same transaction. The SQL texts are
// built once per Entities (statements.cpp).

#include "reflex/rstate/entities.hpp"

#include <chrono>
#include <random>
#include <thread>

#include "hints.hpp"
#include "json.hpp"
#include "reflex/encoding.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/errors.hpp"
#include "reflex/rstate/errors.hpp"
#include "reflex/uuid.hpp"
#include "statements.hpp"

namespace reflex::rstate {

using detail::Json;

std::string_view to_string(Method method) noexcept {
  switch (method) {
    case Method::set:
      return "set";
    case Method::edit:
      return "edit";
    case Method::revert:
      return "revert";
    case Method::del:
      return "del";
  }
  return "?";
}

struct Entities::Impl {
  Impl(std::shared_ptr<rsql::Database> db, EntitiesOptions opts)
      : database(std::move(db)),
        options(std::move(opts)),
        events(database, {.schema = options.schema.events_schema()}),
        sql(database->dialect(), options.schema) {}

  std::shared_ptr<rsql::Database> database;
  EntitiesOptions options;
  rsql::EventsTable events;
  detail::Statements sql;
};

bool is_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (const char c : name) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return false;
  }
  return true;
}

namespace {

constexpr std::size_t kMaxForeignId = 255;
constexpr int kMaxLimit = 10000;

std::int64_t now_ns() {
  return detail::to_ns(std::chrono::system_clock::now());
}

void check_name(std::string_view what, std::string_view name) {
  if (name.empty()) throw ConfigError(std::string(what) + " is empty: give a name without spaces");
  if (!is_name(name)) {
    throw ConfigError(std::string(what) + " " + quoted(name) +
                      " has white space: names match ^\\S+$");
  }
}

std::string foreign_id(const EntityRef& ref) {
  return ref.domain + "/" + ref.type + "/" + ref.key;
}

void check_ref(const EntityRef& ref) {
  check_name("the domain", ref.domain);
  check_name("the type", ref.type);
  check_name("the key", ref.key);
  if (foreign_id(ref).size() > kMaxForeignId) {
    throw ConfigError("entity " + foreign_id(ref).substr(0, 64) +
                      "… is too long: domain/type/key " + "may take at most 255 bytes");
  }
}

void check_page(int limit, int offset) {
  if (limit < 1 || limit > kMaxLimit) {
    throw ConfigError("limit " + std::to_string(limit) + " is out of range: give 1 to 10000");
  }
  if (offset < 0) throw ConfigError("offset " + std::to_string(offset) + " is negative");
}

/// The values of a change, checked and in compact form.
std::string checked_values(std::string_view text, std::size_t max_bytes) {
  if (text.size() > max_bytes) {
    throw ConfigError("values take " + std::to_string(text.size()) + " bytes, more than the " +
                      std::to_string(max_bytes) + " allowed (EntitiesOptions::max_values_bytes)");
  }
  return detail::parse_object(text, "the values").dump();
}

/// A missing table or column becomes a SchemaError naming both tables and the DDL helper. Call
/// inside a catch block.
[[noreturn]] void rethrow_hinted(const EntitiesSchema& schema) {
  detail::rethrow_with_hint("the entities table '" + schema.entities_table +
                                "' or its events table '" + schema.events_table + "'",
                            "entities_ddl", "--entities");
}

EntityEvent event_of_row(const rsql::SqlRow& row, const EntityRef& ref) {
  // id, event_uuid, entity_key, entity_values, method, claims, time_ns, type
  EntityEvent event;
  event.event_id = std::to_string(row.int64(0));
  event.id = std::string(row.text(1));
  event.entity.ref = {ref.domain, ref.type, std::string(row.text(2))};
  event.entity.values = std::string(row.text(3));
  event.method_name = std::string(row.text(4));
  event.claims = std::string(row.text(5));
  event.time_ns = row.int64(6);
  event.entity.updated_ns = event.time_ns;
  event.method = static_cast<Method>(row.int64(7));
  return event;
}

}  // namespace

Entities::Entities(std::shared_ptr<rsql::Database> database, EntitiesOptions options) {
  if (!database) throw ConfigError("Entities needs a database");
  rsql::validate_identifier("entities table", options.schema.entities_table);
  rsql::validate_identifier("entity events table", options.schema.events_table);
  if (options.attempts < 1) throw ConfigError("EntitiesOptions::attempts must be at least 1");
  impl_ = std::make_shared<const Impl>(std::move(database), std::move(options));
}

void Entities::check() const {
  try {
    impl_->database->transact([&](rsql::Sql& sql) {
      sql.query(impl_->sql.probe_entities, {}, [](const rsql::SqlRow&) {});
      sql.query(impl_->sql.probe_history, {}, [](const rsql::SqlRow&) {});
    });
  } catch (...) {
    rethrow_hinted(impl_->options.schema);
  }
  impl_->events.check();  // reflex's own columns of the events table
}

const rsql::EventsTable& Entities::events() const noexcept {
  return impl_->events;
}
const std::shared_ptr<rsql::Database>& Entities::database() const noexcept {
  return impl_->database;
}
const EntitiesOptions& Entities::options() const noexcept {
  return impl_->options;
}

std::pair<EntityEvent, Entity> Entities::apply(rsql::Sql& sql, Method method, const EntityRef& ref,
                                               std::string_view argument,
                                               const Change& change) const {
  const auto& s = impl_->sql;
  check_ref(ref);
  const std::string claims = detail::parse_object(change.claims, "the claims").dump();
  std::string values;  // set / revert: the values to store
  Json patch;          // edit: the keys to merge
  switch (method) {
    case Method::set:
      values = checked_values(argument, impl_->options.max_values_bytes);
      break;
    case Method::edit:
      // The size first, as for a set: an oversize edit is refused before it is parsed.
      patch = detail::parse_object(checked_values(argument, impl_->options.max_values_bytes),
                                   "the values");
      break;
    case Method::revert: {
      if (!is_uuid_v4(argument)) {
        throw ConfigError("event id '" + std::string(argument) + "' is not a version 4 UUID");
      }
      std::optional<EntityEvent> target;
      const rsql::SqlParam by_id[] = {argument};
      sql.query(s.select_event_by_uuid, by_id, [&](const rsql::SqlRow& row) {
        // + entity_domain, entity_type at 8, 9
        EntityRef of{std::string(row.text(8)), std::string(row.text(9)), std::string(row.text(2))};
        target = event_of_row(row, of);
      });
      if (!target) {
        throw NotFound("entity " + foreign_id(ref) + " has no event " + std::string(argument));
      }
      if (!(target->entity.ref == ref)) {
        throw ConfigError("event " + std::string(argument) + " is of entity " +
                          foreign_id(target->entity.ref) + ", not " + foreign_id(ref) +
                          ": revert an entity to one of its own events");
      }
      values = detail::Json::parse(target->entity.values).dump();
      break;
    }
    case Method::del:
      break;
  }

  const std::int64_t now = now_ns();
  Entity after{.ref = ref, .values = values, .version = 0, .updated_ns = now};
  const rsql::SqlParam key[] = {std::string_view(ref.domain), std::string_view(ref.type),
                                std::string_view(ref.key)};

  if (s.upsert && (method == Method::set || method == Method::revert) && !change.expected_version) {
    // PostgreSQL: one statement creates or replaces the row and says its version.
    const rsql::SqlParam params[] = {key[0], key[1], key[2], std::string_view(values), now};
    sql.query(s.upsert_entity, params,
              [&](const rsql::SqlRow& row) { after.version = row.int64(0); });
  } else {
    std::optional<std::pair<std::string, std::int64_t>> current;
    sql.query(s.select_for_update, key, [&](const rsql::SqlRow& row) {
      current.emplace(std::string(row.text(0)), row.int64(1));
    });
    const std::int64_t actual = current ? current->second : 0;
    if (change.expected_version && *change.expected_version != actual) {
      throw VersionConflict("entity " + foreign_id(ref) + " is at version " +
                                std::to_string(actual) + ", not the expected " +
                                std::to_string(*change.expected_version) + ": nothing was written",
                            *change.expected_version, actual);
    }
    if ((method == Method::edit || method == Method::del) && !current) {
      throw NotFound("no entity " + foreign_id(ref));
    }
    if (method == Method::edit) {
      Json merged = Json::parse(current->first);
      for (auto& [k, v] : patch.items()) merged[k] = v;
      values = merged.dump();
      if (values.size() > impl_->options.max_values_bytes) {
        throw ConfigError("the edited values would take " + std::to_string(values.size()) +
                          " bytes, more than the " +
                          std::to_string(impl_->options.max_values_bytes) + " allowed");
      }
      after.values = values;
    }
    if (method == Method::del) {
      (void)sql.execute(s.delete_entity, key);
      after.values = current->first;
      after.version = current->second;
    } else if (current) {
      const rsql::SqlParam params[] = {std::string_view(values), now, key[0], key[1], key[2]};
      (void)sql.execute(s.update_entity, params);
      after.version = current->second + 1;
    } else {
      const rsql::SqlParam params[] = {key[0], key[1], key[2], std::string_view(values), now};
      (void)sql.execute(s.insert_entity, params);
      after.version = 1;
    }
  }

  EntityEvent event{.id = random_uuid(),
                    .event_id = {},
                    .entity = after,
                    .method = method,
                    .method_name = change.method_name.empty() ? std::string(to_string(method))
                                                              : change.method_name,
                    .claims = claims,
                    .time_ns = now};
  const std::string metadata = detail::event_json(event);
  const std::string fid = foreign_id(ref);
  const rsql::SqlParam params[] = {std::string_view(fid),
                                   static_cast<std::int64_t>(method),
                                   rsql::SqlBytes{metadata},
                                   std::string_view(event.id),
                                   key[0],
                                   key[1],
                                   key[2],
                                   std::string_view(after.values),
                                   std::string_view(event.method_name),
                                   std::string_view(claims),
                                   now};
  sql.query(s.insert_event, params,
            [&](const rsql::SqlRow& row) { event.event_id = std::to_string(row.int64(0)); });
  return {std::move(event), std::move(after)};
}

namespace {

/// Runs `work` on transactions of the database's own until it commits, again after a deadlock,
/// a serialization failure, a lock wait timeout or a unique key met by a concurrent creation
/// (each rolled back whole), up to `attempts` times.
template <class Work>
void with_retries(const Entities::Impl& impl, Work&& work) {
  for (int attempt = 1;; ++attempt) {
    try {
      impl.database->transact(work);
      return;
    } catch (const rsql::DatabaseError& e) {
      const bool again = e.kind() == rsql::DatabaseErrorKind::transient ||
                         e.kind() == rsql::DatabaseErrorKind::unique_violation;
      if (!again || attempt >= impl.options.attempts) rethrow_hinted(impl.options.schema);
      // A short random pause, so that colliding writers do not collide again in step.
      thread_local std::minstd_rand jitter{std::random_device{}()};
      std::this_thread::sleep_for(std::chrono::microseconds(200 + jitter() % (1000 * attempt)));
    } catch (...) {
      rethrow_hinted(impl.options.schema);
    }
  }
}

}  // namespace

EntityEvent Entities::set(const EntityRef& ref, std::string_view values,
                          const Change& change) const {
  EntityEvent event;
  with_retries(*impl_,
               [&](rsql::Sql& sql) { event = apply(sql, Method::set, ref, values, change).first; });
  impl_->events.notify();
  return event;
}

Entity Entities::edit(const EntityRef& ref, std::string_view values, const Change& change) const {
  Entity entity;
  with_retries(*impl_, [&](rsql::Sql& sql) {
    entity = apply(sql, Method::edit, ref, values, change).second;
  });
  impl_->events.notify();
  return entity;
}

Entity Entities::revert(const EntityRef& ref, std::string_view event_id,
                        const Change& change) const {
  Entity entity;
  with_retries(*impl_, [&](rsql::Sql& sql) {
    entity = apply(sql, Method::revert, ref, event_id, change).second;
  });
  impl_->events.notify();
  return entity;
}

EntityEvent Entities::del(const EntityRef& ref, const Change& change) const {
  EntityEvent event;
  with_retries(*impl_,
               [&](rsql::Sql& sql) { event = apply(sql, Method::del, ref, {}, change).first; });
  impl_->events.notify();
  return event;
}

Written Entities::on_callers(rsql::Sql& sql, Method method, const EntityRef& ref,
                             std::string_view argument, const Change& change) const {
  try {
    auto event = apply(sql, method, ref, argument, change).first;
    return {std::move(event), impl_->events.notifier()};
  } catch (...) {
    rethrow_hinted(impl_->options.schema);
  }
}

std::optional<Entity> Entities::get(const EntityRef& ref) const {
  check_ref(ref);
  std::optional<Entity> out;
  const rsql::SqlParam key[] = {std::string_view(ref.domain), std::string_view(ref.type),
                                std::string_view(ref.key)};
  try {
    impl_->database->transact([&](rsql::Sql& sql) {
      sql.query(impl_->sql.select_entity, key, [&](const rsql::SqlRow& row) {
        out = Entity{.ref = ref,
                     .values = std::string(row.text(0)),
                     .version = row.int64(1),
                     .updated_ns = row.int64(2)};
      });
    });
  } catch (...) {
    rethrow_hinted(impl_->options.schema);
  }
  return out;
}

std::vector<Entity> Entities::search(const EntityQuery& query) const {
  check_name("the domain", query.domain);
  check_name("the type", query.type);
  check_page(query.limit, query.offset);
  const auto terms = detail::parse_filter(query.filter, false);
  detail::Path sort;
  if (!query.sort.field.empty()) sort = detail::parse_path(query.sort.field, false);
  auto built = impl_->sql.search_entities(query, terms, sort);
  std::vector<Entity> out;
  try {
    impl_->database->transact([&](rsql::Sql& sql) {
      std::vector<rsql::SqlParam> params;
      for (const auto& p : built.params) params.emplace_back(p.as_param());
      sql.query(built.sql, params, [&](const rsql::SqlRow& row) {
        out.push_back(Entity{.ref = {query.domain, query.type, std::string(row.text(0))},
                             .values = std::string(row.text(1)),
                             .version = row.int64(2),
                             .updated_ns = row.int64(3)});
      });
    });
  } catch (...) {
    rethrow_hinted(impl_->options.schema);
  }
  return out;
}

std::vector<EntityEvent> Entities::search_events(const EventQuery& query) const {
  check_name("the domain", query.domain);
  check_name("the type", query.type);
  if (!query.key.empty()) check_name("the key", query.key);
  check_page(query.limit, query.offset);
  if (query.min_ns < 0 || query.max_ns < 0) throw ConfigError("min and max must not be negative");
  const auto terms = detail::parse_filter(query.filter, true);
  detail::Path sort;
  if (!query.sort.field.empty() && query.sort.field != "time") {
    sort = detail::parse_path(query.sort.field, true);
  }
  auto built = impl_->sql.search_events(query, terms, sort);
  std::vector<EntityEvent> out;
  const EntityRef of{query.domain, query.type, {}};
  try {
    impl_->database->transact([&](rsql::Sql& sql) {
      std::vector<rsql::SqlParam> params;
      for (const auto& p : built.params) params.emplace_back(p.as_param());
      sql.query(built.sql, params,
                [&](const rsql::SqlRow& row) { out.push_back(event_of_row(row, of)); });
    });
  } catch (...) {
    rethrow_hinted(impl_->options.schema);
  }
  return out;
}

std::optional<EntityEvent> Entities::get_event(const EntityRef& ref,
                                               std::string_view event_id) const {
  check_ref(ref);
  if (!is_uuid_v4(event_id)) {
    throw ConfigError("event id '" + std::string(event_id) + "' is not a version 4 UUID");
  }
  std::optional<EntityEvent> out;
  const rsql::SqlParam by_id[] = {event_id};
  try {
    impl_->database->transact([&](rsql::Sql& sql) {
      sql.query(impl_->sql.select_event_by_uuid, by_id, [&](const rsql::SqlRow& row) {
        EntityRef of{std::string(row.text(8)), std::string(row.text(9)), std::string(row.text(2))};
        if (of == ref) out = event_of_row(row, of);
      });
    });
  } catch (...) {
    rethrow_hinted(impl_->options.schema);
  }
  return out;
}

}  // namespace reflex::rstate
