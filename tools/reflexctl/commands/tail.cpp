// reflexctl tail: prints a stream's events as JSON lines.

#include <cstdio>
#include <memory>
#include <set>

#include "commands/commands.hpp"
#include "json.hpp"
#include "reflex/errors.hpp"
#include "signals.hpp"
#include "sources.hpp"

namespace reflexctl {
namespace {

struct TailOptions {
  std::string source;
  std::string after;
  bool from_head = false;
  bool to_head = false;
  std::string lag;
  std::vector<int> types;
  std::int64_t limit = 0;
};

int tail(const TailOptions& o) {
  require(o.source, "needs one SOURCE (reflexctl help tail)");
  const std::set<int> types(o.types.begin(), o.types.end());
  const reflex::StreamOptions options{
      .lag = o.lag.empty() ? std::chrono::milliseconds{} : parse_duration("--lag", o.lag),
      .from_head = o.from_head,
      .to_head = o.to_head};
  const auto stream = open_source(o.source);
  SignalStop signals;
  auto client = stream(signals.token(), o.after, options);
  std::int64_t printed = 0;
  try {
    while (o.limit == 0 || printed < o.limit) {
      const auto event = client->recv();
      if (!types.empty() && !types.contains(event.type)) continue;
      std::fputs((to_json(event) + "\n").c_str(), stdout);
      std::fflush(stdout);
      ++printed;
    }
  } catch (const reflex::HeadReached&) {
  } catch (const reflex::Canceled&) {
  }
  return 0;
}

}  // namespace

Run add_tail(CLI::App& app) {
  auto o = std::make_shared<TailOptions>();
  auto* cmd = app.add_subcommand("tail", "print a stream's events as JSON lines");
  cmd->add_option("SOURCE", o->source, "the stream (see reflexctl --help for the URIs)");
  cmd->add_option("--after", o->after, "start after this cursor (exclusive; default: the start)")
      ->type_name("CURSOR");
  cmd->add_flag("--from-head", o->from_head, "start at the newest event");
  cmd->add_flag("--to-head", o->to_head, "exit 0 once the newest event is printed");
  cmd->add_option("--lag", o->lag, "only events at least this old: 500ms, 2s, 5m, 1h")
      ->type_name("DURATION");
  cmd->add_option("--types", o->types, "only these event types")
      ->delimiter(',')
      ->check(positive_integer())
      ->type_name("T1,T2");
  cmd->add_option("--limit", o->limit, "exit 0 after N events")
      ->check(positive_integer())
      ->type_name("N");
  cmd->footer(text(R"(
Prints one JSON object per line:
  {"id":"…","type":N,"foreign_id":"…","timestamp":"2024-05-01T12:00:00.000001Z",
   "metadata":"base64","trace":"base64"}
metadata and trace are omitted when empty. A foreign id that is not valid UTF-8 is given as
"foreign_id_base64" (base64 of its bytes) instead of "foreign_id". Follows the stream until
SIGINT/SIGTERM unless --to-head or --limit ends it.)"));
  return [o] { return tail(*o); };
}

}  // namespace reflexctl
