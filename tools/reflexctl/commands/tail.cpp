// reflexctl tail: prints a stream's events as JSON lines, riding out outages of the source.

#include <climits>
#include <cstdio>
#include <memory>
#include <set>

#include "commands/commands.hpp"
#include "errors.hpp"
#include "json.hpp"
#include "outages.hpp"
#include "reflex/errors.hpp"
#include "reflex/wait.hpp"
#include "signals.hpp"
#include "sources.hpp"

namespace reflexctl {
namespace {

struct TailOptions {
  std::string source;
  std::string primary;
  std::string after;
  bool from_head = false;
  bool to_head = false;
  std::string lag;
  std::vector<int> types;
  std::int64_t limit = 0;
  bool no_retry = false;
};

int tail(const TailOptions& o) {
  require(o.source, "needs one SOURCE (reflexctl help tail)");
  const std::set<int> types(o.types.begin(), o.types.end());
  reflex::StreamOptions options{
      .lag = o.lag.empty() ? std::chrono::milliseconds{} : parse_duration("--lag", o.lag),
      .from_head = o.from_head,
      .to_head = o.to_head};
  const std::string source = with_primary(o.source, o.primary);
  const auto stream = open_source(source);
  const std::string what = "source " + shown(source);
  SignalStop signals;
  const auto stop = signals.token();
  OutageLog outage("tail");
  Backoff backoff;
  // The last event received (printed or filtered out): a stream reopened after an outage
  // continues after it, so every event is printed once.
  std::string after = o.after;
  std::int64_t printed = 0;
  for (;;) {
    try {
      if (outage.is_down()) {
        // Reopening a stream need not touch the source (an SQL stream queries at its first
        // recv, which then may wait for events for long): ask it first, then say it is back.
        if (auto failure = probe(stop, stream, std::chrono::seconds(5))) {
          std::rethrow_exception(failure);
        }
        outage.back();
        backoff.reset();
      }
      auto client = stream(stop, after, options);
      while (o.limit == 0 || printed < o.limit) {
        const auto event = client->recv();
        after = event.id;
        options.from_head = false;  // started: from here on, after the last event
        if (!types.empty() && !types.contains(event.type)) continue;
        std::fputs((to_json(event) + "\n").c_str(), stdout);
        std::fflush(stdout);
        ++printed;
      }
      return 0;
    } catch (const reflex::HeadReached&) {
      return 0;
    } catch (...) {
      const auto failure = std::current_exception();
      if (stop.stop_requested()) return 0;
      if (o.no_retry || !is_transient(failure)) throw;
      outage.down(what, describe(failure));
      if (!reflex::sleep_for(stop, backoff.next())) return 0;
    }
  }
}

}  // namespace

Run add_tail(CLI::App& app) {
  auto o = std::make_shared<TailOptions>();
  auto* cmd = app.add_subcommand("tail", "print a stream's events as JSON lines");
  cmd->add_option("SOURCE", o->source, "the stream (see reflexctl --help for the URIs)");
  cmd->add_option("--after", o->after, "start after this cursor (exclusive; default: the start)")
      ->type_name("CURSOR");
  cmd->add_option("--primary", o->primary,
                  "the primary of a PostgreSQL standby SOURCE, which decides holes in the ids")
      ->type_name("DSN");
  cmd->add_flag("--from-head", o->from_head, "start at the newest event");
  cmd->add_flag("--to-head", o->to_head, "exit 0 once the newest event is printed");
  cmd->add_option("--lag", o->lag, "only events at least this old: 500ms, 2s, 5m, 1h")
      ->type_name("DURATION");
  cmd->add_option("--types", o->types, "only these event types")
      ->delimiter(',')
      ->check(positive_integer(INT_MAX))
      ->type_name("T1,T2");
  cmd->add_option("--limit", o->limit, "exit 0 after N events")
      ->check(positive_integer())
      ->type_name("N");
  cmd->add_flag("--no-retry", o->no_retry,
                "exit 1 at the first failure instead of waiting out an outage");
  cmd->footer(text(R"(
Prints one JSON object per line:
  {"id":"…","type":N,"foreign_id":"…","timestamp":"2024-05-01T12:00:00.000001Z",
   "metadata":"base64","trace":"base64"}
metadata and trace are omitted when empty. A foreign id that is not valid UTF-8 is given as
"foreign_id_base64" (base64 of its bytes) instead of "foreign_id". Follows the stream until
SIGINT/SIGTERM unless --to-head or --limit ends it. When the source goes away (a server down, a
lost connection) tail logs one line, retries with backoff (100ms doubling to 5s) and, once the
source answers again, logs one more line and goes on after the last event it printed; errors
that retrying cannot heal (a missing table, a bad cursor) end it with exit 1 or 2. A SOURCE on a
PostgreSQL hot standby needs --primary (or &primary=DSN, percent-encoded, in SOURCE): the events
are read on the standby, holes in the ids are decided on one small connection to the primary.)"));
  return [o] { return tail(*o); };
}

}  // namespace reflexctl
