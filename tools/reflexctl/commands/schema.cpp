// reflexctl schema: prints the DDL of the events, cursors and errors tables of one dialect, and
// on request of the inbox and shards tables of exactly-once and shared consumers and of the
// entities tables of reflex::rstate.

#include "reflex/rstate/schema.hpp"

#include <iostream>
#include <memory>

#include "commands/commands.hpp"
#include "errors.hpp"
#include "reflex/rsql/rsql.hpp"

namespace reflexctl {
namespace {

struct SchemaOptions {
  std::string dialect;
  std::string events = "events";
  std::string cursors = "cursors";
  std::string errors = "errors";
  std::string inbox;
  std::string shards;
  std::string shard_members = reflex::rsql::ShardsSchema{}.members_table;
  std::string entities;
  std::string entity_events = reflex::rstate::EntitiesSchema{}.events_table;
  std::string cache;
  std::string mutexes;
};

int schema(const SchemaOptions& o) {
  require(o.dialect, "needs a dialect: postgres, mysql or sqlite");
  reflex::rsql::Dialect dialect;
  if (o.dialect == "postgres" || o.dialect == "postgresql")
    dialect = reflex::rsql::Dialect::postgres;
  else if (o.dialect == "mysql" || o.dialect == "mariadb")
    dialect = reflex::rsql::Dialect::mysql;
  else if (o.dialect == "sqlite")
    dialect = reflex::rsql::Dialect::sqlite;
  else
    throw UsageError("unknown dialect '" + o.dialect + "': use postgres, mysql or sqlite");
  std::cout << reflex::rsql::events_ddl(dialect, {.table = o.events}) << ";\n\n"
            << reflex::rsql::cursors_ddl(dialect, {.table = o.cursors}) << ";\n\n"
            << reflex::rsql::errors_ddl(dialect, {.table = o.errors}) << ";\n";
  if (!o.inbox.empty())
    std::cout << "\n" << reflex::rsql::inbox_ddl(dialect, {.table = o.inbox}) << ";\n";
  if (!o.shards.empty()) {
    std::cout << "\n"
              << reflex::rsql::shards_ddl(dialect,
                                          {.table = o.shards, .members_table = o.shard_members})
              << ";\n";
  }
  if (!o.entities.empty()) {
    std::cout << "\n"
              << reflex::rstate::entities_ddl(
                     dialect, {.entities_table = o.entities, .events_table = o.entity_events})
              << ";\n";
  }
  if (!o.cache.empty())
    std::cout << "\n" << reflex::rstate::cache_ddl(dialect, {.table = o.cache}) << ";\n";
  if (!o.mutexes.empty())
    std::cout << "\n" << reflex::rstate::mutexes_ddl(dialect, {.table = o.mutexes}) << ";\n";
  return 0;
}

}  // namespace

Run add_schema(CLI::App& app) {
  auto o = std::make_shared<SchemaOptions>();
  auto* cmd =
      app.add_subcommand("schema", "print the DDL of the events, cursors and errors tables");
  cmd->add_option("DIALECT", o->dialect, "postgres, mysql or sqlite");
  cmd->add_option("--events", o->events, "name of the events table")
      ->capture_default_str()
      ->type_name("NAME");
  cmd->add_option("--cursors", o->cursors, "name of the cursors table")
      ->capture_default_str()
      ->type_name("NAME");
  cmd->add_option("--errors", o->errors, "name of the errors table")
      ->capture_default_str()
      ->type_name("NAME");
  cmd->add_option("--inbox", o->inbox, "also the inbox table of exactly-once consumers")
      ->type_name("NAME");
  cmd->add_option("--shards", o->shards, "also the shards tables of shared consumers")
      ->type_name("NAME");
  cmd->add_option("--shard-members", o->shard_members, "name of the shard members table")
      ->capture_default_str()
      ->type_name("NAME");
  cmd->add_option("--entities", o->entities,
                  "also the entities table of reflex::rstate and its events table")
      ->type_name("NAME");
  cmd->add_option("--entity-events", o->entity_events, "name of the entities' events table")
      ->capture_default_str()
      ->type_name("NAME");
  cmd->add_option("--cache", o->cache, "also the cache table of reflex::rstate")->type_name("NAME");
  cmd->add_option("--mutexes", o->mutexes, "also the mutexes table of reflex::rstate")
      ->type_name("NAME");
  cmd->footer("Prints the DDL reflex expects (CREATE … IF NOT EXISTS).");
  return [o] { return schema(*o); };
}

}  // namespace reflexctl
