// reflexctl cursors: lists, reads, sets (an event id, never backwards, unless --force) and
// deletes consumer cursors in an SQL cursors table or a NATS KV bucket; `list` also shows the
// shards of shared consumers (their leases and cursors) kept beside an SQL cursors table.

#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "commands/commands.hpp"
#include "errors.hpp"
#include "reflex/reflex.hpp"
#include "reflex/rsql/rsql.hpp"
#include "sources.hpp"

namespace reflexctl {
namespace {

struct CursorsOptions {
  std::string store;
  std::string name;
  std::string value;
  const CLI::Option* value_option = nullptr;  // to tell VALUE "" from no VALUE
  bool force = false;
  bool json = false;
};

/// Calls `repair(concrete store)` for what reflex::CursorStore lacks (list, force_set, remove, a
/// read that tells a missing cursor from an empty one): an SQL cursors table or a NATS KV bucket,
/// which both are reflex::BufferedCursorStores.
template <class Repair>
auto with_repairable(reflex::CursorStore& store, Repair&& repair) {
  if (auto* buffered = dynamic_cast<reflex::BufferedCursorStore*>(&store)) return repair(*buffered);
  throw UsageError("this cursor store cannot list, delete or force: use an SQL or NATS KV store");
}

/// What --force is for, said where a set is refused.
constexpr const char* kForceHint = "--force sets any value, \"\" (the beginning) included";

/// The store of an action; a missing KV bucket is an error here, not a new bucket.
std::shared_ptr<reflex::CursorStore> store_of(const CursorsOptions& o) {
  require(o.store, "needs a STORE (reflexctl help cursors)");
  return open_cursor_store(o.store, {.buffered = false, .create = false});
}

/// The shards of shared consumers in an SQL store: the table `?shards=` names (default "shards")
/// beside the cursors table; none when the store is not SQL or the table does not exist.
struct SharedShards {
  std::string consumer;
  std::vector<reflex::rpatterns::ShardState> shards;
};

/// `store` without its `shards` parameter (which only reflexctl reads), and that table's name.
std::pair<std::string, std::string> split_shards_param(const std::string& store) {
  if (!is_sql(store)) return {store, ""};
  auto uri = reflex::parse_uri(store);
  std::string table = uri.param("shards").value_or("shards");
  reflex::rsql::validate_identifier("shards table", table);
  uri.remove_param("shards");
  return {uri.str(), std::move(table)};
}

std::vector<SharedShards> shared_shards(const std::string& store, const std::string& table) {
  if (table.empty()) return {};
  auto uri = reflex::parse_uri(store);
  uri.remove_param("table");
  reflex::rsql::ShardsTable shards(
      reflex::rsql::Database::open(uri.str(), {.create_missing = false}),
      {.schema = {.table = table}});
  std::vector<SharedShards> out;
  try {
    for (auto& consumer : shards.groups()) {
      auto states = shards.list(consumer);
      out.push_back({.consumer = std::move(consumer), .shards = std::move(states)});
    }
  } catch (const reflex::rsql::SchemaError&) {
    return {};  // no shared consumers here
  }
  return out;
}

/// Milliseconds until `expires` by this machine's clock (the store's clock decides; they differ by
/// the clocks' offset); nullopt for a free shard.
std::optional<long long> expires_in_ms(const reflex::rpatterns::ShardState& state) {
  if (state.owner.empty()) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(state.expires -
                                                               std::chrono::system_clock::now())
      .count();
}

std::string expires_text(const reflex::rpatterns::ShardState& state) {
  const auto ms = expires_in_ms(state);
  if (!ms) return "-";
  if (*ms < 0) return "expired";
  return std::to_string(*ms / 1000) + "." + std::to_string(*ms % 1000 / 100) + "s";
}

int list(const CursorsOptions& o) {
  require(o.store, "needs a STORE (reflexctl help cursors)");
  const auto [store_text, shards_table] = split_shards_param(o.store);
  const auto store = open_cursor_store(store_text, {.buffered = false, .create = false});
  const auto cursors = with_repairable(*store, [](auto& s) { return s.list(); });
  const auto shared = shared_shards(store_text, shards_table);
  if (o.json) {
    nlohmann::ordered_json out;
    out["cursors"] = nlohmann::ordered_json::array();
    for (const auto& [name, cursor] : cursors) {
      out["cursors"].push_back({{"name", name}, {"cursor", cursor}});
    }
    out["shards"] = nlohmann::ordered_json::array();
    for (const auto& group : shared) {
      for (const auto& s : group.shards) {
        nlohmann::ordered_json shard{{"consumer", group.consumer}, {"shard", s.shard},
                                     {"owner", s.owner},           {"token", s.token},
                                     {"expires_in_ms", nullptr},   {"cursor", s.cursor}};
        if (const auto ms = expires_in_ms(s)) shard["expires_in_ms"] = *ms;
        out["shards"].push_back(std::move(shard));
      }
    }
    std::cout << out.dump() << '\n';
    return 0;
  }
  for (const auto& [name, cursor] : cursors) std::cout << name << '\t' << cursor << '\n';
  if (shared.empty()) return 0;
  // A block of its own, after a blank line, so that the NAME<TAB>CURSOR lines stay as they were.
  std::cout << "\nCONSUMER\tSHARD\tOWNER\tTOKEN\tEXPIRES_IN\tCURSOR\n";
  for (const auto& group : shared) {
    for (const auto& s : group.shards) {
      std::cout << group.consumer << '\t' << s.shard << '\t' << (s.owner.empty() ? "-" : s.owner)
                << '\t' << s.token << '\t' << expires_text(s) << '\t' << s.cursor << '\n';
    }
  }
  return 0;
}

int get(const CursorsOptions& o) {
  const auto store = store_of(o);
  require(o.name, "get needs STORE and NAME");
  const auto cursor = with_repairable(*store, [&](auto& s) { return s.storage().read(o.name); });
  if (!cursor) {
    print_error("cursors", "no cursor named '" + o.name + "'");
    return 1;
  }
  std::cout << *cursor << '\n';
  return 0;
}

int set(const CursorsOptions& o) {
  const auto store = store_of(o);
  if (o.name.empty() || o.value_option == nullptr || o.value_option->count() == 0)
    throw UsageError("set needs STORE, NAME and VALUE");
  if (o.force) {
    with_repairable(*store, [&](auto& s) { s.force_set(o.name, o.value); });
    return 0;
  }
  // The ids of every reflex source are non-negative decimal numbers: anything else (a typo, ""
  // for the beginning) would rewind the consumer, or make its next run fail on the cursor.
  if (o.value.empty()) {
    throw UsageError("refusing to set cursor '" + o.name +
                     "' to \"\": that rewinds it to the beginning; " + kForceHint);
  }
  const auto id = reflex::parse_int64(o.value);
  if (!id || *id < 0) {
    throw UsageError("refusing to set cursor '" + o.name + "' to '" + o.value +
                     "': not an event id (a non-negative decimal number); " + kForceHint);
  }
  const std::string current = store->get(o.name);
  if (reflex::moves_backwards(current, o.value)) {
    throw UsageError("refusing to move cursor '" + o.name + "' back from " + current + " to " +
                     o.value + ": add --force to rewind on purpose (" + kForceHint + ")");
  }
  store->set(o.name, o.value);
  store->flush();
  return 0;
}

int remove(const CursorsOptions& o) {
  const auto store = store_of(o);
  require(o.name, "delete needs STORE and NAME");
  if (!with_repairable(*store, [&](auto& s) { return s.remove(o.name); })) {
    print_error("cursors", "no cursor named '" + o.name + "'");
    return 1;
  }
  return 0;
}

}  // namespace

Run add_cursors(CLI::App& app) {
  auto o = std::make_shared<CursorsOptions>();
  auto action = std::make_shared<std::function<int(const CursorsOptions&)>>();
  auto* cmd = app.add_subcommand("cursors", "list, get, set or delete consumer cursors");
  cmd->footer(text(R"(
STORE: an SQL DSN with ?table=CURSORS_TABLE, or nats://HOST:PORT?bucket=B (a KV bucket).
For an SQL store, list also shows the shards of shared consumers (rpatterns::run_shared) in the
table ?shards=TABLE names (default: shards), when it exists.)"));
  const auto add_action = [&](const char* name, const char* what,
                              int (*run)(const CursorsOptions&)) {
    auto* sub = cmd->add_subcommand(name, what)->group("Actions");
    sub->add_option("STORE", o->store, "the cursor store");
    sub->callback([action, run] { *action = run; });
    return sub;
  };
  add_action("list",
             "print one NAME<TAB>CURSOR line per cursor, by name, then the shards of shared "
             "consumers (CONSUMER SHARD OWNER TOKEN EXPIRES_IN CURSOR)",
             list)
      ->add_flag("--json", o->json,
                 "print one JSON object: {\"cursors\":[{name,cursor}],\"shards\":[{consumer,"
                 "shard,owner,token,expires_in_ms,cursor}]}");
  add_action("get", "print the cursor of NAME (exit 1 when it has none)", get)
      ->add_option("NAME", o->name, "the consumer");
  auto* set_cmd = add_action(
      "set", "set the cursor of NAME to an event id, never backwards; --force: anything", set);
  set_cmd->add_option("NAME", o->name, "the consumer");
  o->value_option = set_cmd->add_option("VALUE", o->value, "the new cursor: an event id");
  set_cmd->add_flag("--force", o->force,
                    "set any VALUE: backwards (a rewind on purpose), not an id, \"\" (the "
                    "beginning)");
  add_action("delete", "delete the cursor of NAME (exit 1 when it has none)", remove)
      ->add_option("NAME", o->name, "the consumer");
  return [o, action] {
    if (!*action) {
      throw UsageError("needs an action: list, get, set or delete (reflexctl help cursors)");
    }
    return (*action)(*o);
  };
}

}  // namespace reflexctl
