// reflexctl streams: creates or updates, shows and deletes JetStream streams (rnats::ensure_stream,
// stream_info, delete_stream), so that a relay's stream can be made without other tooling.

#include <climits>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands/commands.hpp"
#include "errors.hpp"
#include "sources.hpp"
#if defined(REFLEXCTL_WITH_NATS)
#include "reflex/rnats/rnats.hpp"
#endif

namespace reflexctl {
namespace {

struct StreamsOptions {
  std::string address;
  std::vector<std::string> subjects;
  std::string description;
  std::string max_age;
  std::int64_t max_events = 0;
  std::int64_t max_events_per_subject = 0;
  std::int64_t max_bytes = 0;
  std::int32_t max_event_size = 0;
  std::string discard = "old";
  std::string storage = "file";
  int replicas = 1;
  std::string duplicate_window;
};

#if defined(REFLEXCTL_WITH_NATS)
/// The connection and the stream an action's NATS?stream=S names.
struct Target {
  reflex::rnats::Connection connection;
  std::string stream;
};

Target target_of(const StreamsOptions& o) {
  require(o.address, "needs NATS?stream=S (reflexctl help streams)");
  if (!is_nats(o.address)) {
    throw UsageError("needs a NATS address: nats://[USER:PW@]HOST:PORT[,…]?stream=S (or tls://…)");
  }
  const auto address = parse_nats_address(o.address);
  address.uri.check_params({"stream"});
  std::string stream = address.uri.required_param("stream", "name the stream, e.g. ?stream=ORDERS");
  return {.connection = connect_nats(address), .stream = std::move(stream)};
}

void print_info(const reflex::rnats::StreamInfo& info) {
  nlohmann::ordered_json out;
  out["name"] = info.name;
  out["messages"] = info.messages;
  out["bytes"] = info.bytes;
  out["first_sequence"] = info.first_sequence;
  out["last_sequence"] = info.last_sequence;
  out["consumers"] = info.consumers;
  std::cout << out.dump() << '\n';
}

int ensure(const StreamsOptions& o) {
  // The settings first: a bad one is said without connecting.
  reflex::rnats::StreamConfig config{.description = o.description,
                                     .subjects = o.subjects,
                                     .max_events = o.max_events,
                                     .max_events_per_subject = o.max_events_per_subject,
                                     .max_bytes = o.max_bytes,
                                     .max_event_size = o.max_event_size,
                                     .replicas = o.replicas};
  if (!o.max_age.empty()) config.max_age = parse_duration("--max-age", o.max_age);
  if (!o.duplicate_window.empty()) {
    config.duplicate_window = parse_duration("--duplicate-window", o.duplicate_window);
  }
  if (o.discard == "old") {
    config.discard = reflex::rnats::Discard::old_messages;
  } else if (o.discard == "new") {
    config.discard = reflex::rnats::Discard::new_messages;
  } else {
    throw UsageError("--discard is old or new (got '" + o.discard + "')");
  }
  if (o.storage == "file") {
    config.storage = reflex::rnats::Storage::file;
  } else if (o.storage == "memory") {
    config.storage = reflex::rnats::Storage::memory;
  } else {
    throw UsageError("--storage is file or memory (got '" + o.storage + "')");
  }
  const auto target = target_of(o);
  config.name = target.stream;
  print_info(reflex::rnats::ensure_stream(target.connection, config));
  return 0;
}

int info(const StreamsOptions& o) {
  const auto target = target_of(o);
  const auto info = reflex::rnats::stream_info(target.connection, target.stream);
  if (!info) {
    print_error("streams", "no stream named \"" + target.stream + "\"");
    return 1;
  }
  print_info(*info);
  return 0;
}

int remove(const StreamsOptions& o) {
  const auto target = target_of(o);
  if (!reflex::rnats::delete_stream(target.connection, target.stream)) {
    print_error("streams", "no stream named \"" + target.stream + "\"");
    return 1;
  }
  return 0;
}
#else
int unavailable(const StreamsOptions&) {
  throw UsageError("this reflexctl was built without NATS support");
}
#endif

}  // namespace

Run add_streams(CLI::App& app) {
  auto o = std::make_shared<StreamsOptions>();
  auto action = std::make_shared<std::function<int(const StreamsOptions&)>>();
  auto* cmd = app.add_subcommand("streams", "create, update, show or delete JetStream streams");
  cmd->footer(text(R"(
NATS: nats://[USER:PW@]HOST:PORT[,…]?stream=S (or tls://…), as the other commands take it.
info and ensure print the stream's state as one JSON line:
  {"name":"S","messages":N,"bytes":N,"first_sequence":N,"last_sequence":N,"consumers":N})"));
  const auto add_action = [&](const char* name, const char* what,
                              int (*run)(const StreamsOptions&)) {
    auto* sub = cmd->add_subcommand(name, what)->group("Actions");
    sub->add_option("NATS", o->address, "the server(s) and ?stream=S");
    sub->callback([action, run] { *action = run; });
    return sub;
  };
#if defined(REFLEXCTL_WITH_NATS)
  auto* ensure_cmd =
      add_action("ensure", "create the stream, or update it to these settings", ensure);
  add_action("info", "print the stream's state (exit 1 when there is none)", info);
  add_action("delete", "delete the stream with its messages (exit 1 when there is none)", remove);
#else
  auto* ensure_cmd = add_action("ensure", "create the stream, or update it", unavailable);
  add_action("info", "print the stream's state", unavailable);
  add_action("delete", "delete the stream", unavailable);
#endif
  ensure_cmd->add_option("--subjects", o->subjects, "subjects bound to it (default: its name)")
      ->delimiter(',')
      ->type_name("S1,S2");
  ensure_cmd->add_option("--description", o->description, "what it holds")->type_name("TEXT");
  ensure_cmd->add_option("--max-age", o->max_age, "drop messages older than this (default: keep)")
      ->type_name("DURATION");
  ensure_cmd->add_option("--max-events", o->max_events, "keep at most N messages")
      ->check(positive_integer())
      ->type_name("N");
  ensure_cmd
      ->add_option("--max-events-per-subject", o->max_events_per_subject,
                   "keep at most N messages per subject")
      ->check(positive_integer())
      ->type_name("N");
  ensure_cmd->add_option("--max-bytes", o->max_bytes, "keep at most N bytes")
      ->check(positive_integer())
      ->type_name("N");
  ensure_cmd->add_option("--max-event-size", o->max_event_size, "refuse messages over N bytes")
      ->check(positive_integer(INT32_MAX))
      ->type_name("N");
  ensure_cmd->add_option("--discard", o->discard, "when full, drop old messages or refuse new ones")
      ->type_name("old|new");
  ensure_cmd->add_option("--storage", o->storage, "file (default) or memory")
      ->type_name("file|memory");
  ensure_cmd->add_option("--replicas", o->replicas, "copies in a cluster, 1 to 5 (default 1)")
      ->check(integer_in(1, 5))
      ->type_name("N");
  ensure_cmd
      ->add_option("--duplicate-window", o->duplicate_window,
                   "how long message ids are remembered (default: the server's, 2m)")
      ->type_name("DURATION");
  ensure_cmd->footer(text(R"(
ensure declares the whole configuration: a setting left out takes its default, on an existing
stream too (JetStream refuses some changes, e.g. of --storage: the server's reason is shown).
Limits unset are unlimited.)"));
  return [o, action] {
    if (!*action) {
      throw UsageError("needs an action: ensure, info or delete (reflexctl help streams)");
    }
    return (*action)(*o);
  };
}

}  // namespace reflexctl
