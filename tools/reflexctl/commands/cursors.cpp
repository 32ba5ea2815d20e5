// reflexctl cursors: lists, reads, sets (never backwards without --force) and deletes consumer
// cursors in an SQL cursors table or a NATS KV bucket.

#include <iostream>
#include <memory>

#include "commands/commands.hpp"
#include "errors.hpp"
#include "reflex/reflex.hpp"
#include "reflex/rsql/rsql.hpp"
#include "sources.hpp"
#if defined(REFLEXCTL_WITH_NATS)
#include "reflex/rnats/rnats.hpp"
#endif

namespace reflexctl {
namespace {

struct CursorsOptions {
  std::string store;
  std::string name;
  std::string value;
  bool force = false;
};

/// Calls `repair(concrete store)` for what reflex::CursorStore lacks (list, force_set, remove):
/// an SQL cursors table or a NATS KV bucket, which both have them.
template <class Repair>
auto with_repairable(reflex::CursorStore& store, Repair&& repair) {
  if (auto* table = dynamic_cast<reflex::rsql::CursorsTable*>(&store)) return repair(*table);
#if defined(REFLEXCTL_WITH_NATS)
  if (auto* kv = dynamic_cast<reflex::rnats::KvCursorStore*>(&store)) return repair(*kv);
#endif
  throw UsageError("cursors list, delete and set --force need an SQL or NATS KV cursor store");
}

/// The store of an action; a missing KV bucket is an error here, not a new bucket.
std::shared_ptr<reflex::CursorStore> store_of(const CursorsOptions& o) {
  require(o.store, "needs a STORE (reflexctl help cursors)");
  return open_cursor_store(o.store, {.buffered = false, .create = false});
}

int list(const CursorsOptions& o) {
  const auto store = store_of(o);
  for (const auto& [name, cursor] : with_repairable(*store, [](auto& s) { return s.list(); })) {
    std::cout << name << '\t' << cursor << '\n';
  }
  return 0;
}

int get(const CursorsOptions& o) {
  const auto store = store_of(o);
  require(o.name, "get needs STORE and NAME");
  std::cout << store->get(o.name) << '\n';
  return 0;
}

int set(const CursorsOptions& o) {
  const auto store = store_of(o);
  if (o.name.empty() || o.value.empty()) throw UsageError("set needs STORE, NAME and VALUE");
  if (o.force) {
    with_repairable(*store, [&](auto& s) { s.force_set(o.name, o.value); });
    return 0;
  }
  const std::string current = store->get(o.name);
  if (reflex::moves_backwards(current, o.value)) {
    throw UsageError("refusing to move cursor '" + o.name + "' back from " + current + " to " +
                     o.value + ": add --force to rewind on purpose");
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
STORE: an SQL DSN with ?table=CURSORS_TABLE, or nats://HOST:PORT?bucket=B (a KV bucket).)"));
  const auto add_action = [&](const char* name, const char* what,
                              int (*run)(const CursorsOptions&)) {
    auto* sub = cmd->add_subcommand(name, what)->group("Actions");
    sub->add_option("STORE", o->store, "the cursor store");
    sub->callback([action, run] { *action = run; });
    return sub;
  };
  add_action("list", "print one NAME<TAB>CURSOR line per cursor, by name", list);
  add_action("get", "print the cursor of NAME (an empty line when it has none)", get)
      ->add_option("NAME", o->name, "the consumer");
  auto* set_cmd = add_action("set", "set the cursor of NAME; never backwards without --force", set);
  set_cmd->add_option("NAME", o->name, "the consumer");
  set_cmd->add_option("VALUE", o->value, "the new cursor");
  set_cmd->add_flag("--force", o->force, "also move it backwards (rewind on purpose)");
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
