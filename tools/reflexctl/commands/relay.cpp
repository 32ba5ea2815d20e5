// reflexctl relay: the exactly-once outbox relay (reflex::rnats::Relay) as a process.

#include <cstdio>
#include <memory>
#include <thread>

#include "commands/commands.hpp"
#include "errors.hpp"
#include "reflex/event.hpp"
#include "sources.hpp"
#if defined(REFLEXCTL_WITH_NATS)
#include "reflex/rnats/rnats.hpp"
#include "signals.hpp"
#endif

namespace reflexctl {
namespace {

struct RelayCommandOptions {
  std::string source;
  std::string target;
  std::string consumer;
  std::string cursors;
  bool to_head = false;
};

#if defined(REFLEXCTL_WITH_NATS)
/// Whether the relay's cursor has reached `head`, the source's newest id when the run began.
/// Ids of an SQL outbox are integers; a cursor past the head (newer events relayed meanwhile)
/// counts as reached too.
bool at_or_past(const std::string& cursor, const std::string& head) {
  if (cursor == head) return true;
  const auto c = reflex::parse_int64(cursor);
  const auto h = reflex::parse_int64(head);
  return c && h && *c >= *h;
}
#endif

int relay(const RelayCommandOptions& o) {
#if defined(REFLEXCTL_WITH_NATS)
  if (o.source.empty() || o.target.empty())
    throw UsageError("needs SOURCE and nats://HOST:PORT?stream=S&subject=X");
  require(o.consumer, "needs --consumer NAME (it names the relay's message ids)");
  if (!is_nats(o.target))
    throw UsageError("publishes to nats://HOST:PORT?stream=S&subject=X (or tls://…)");
  if (o.to_head && !is_sql(o.source)) throw UsageError("--to-head needs an SQL source");
  const auto target = parse_nats_address(o.target);
  target.uri.check_params({"stream", "subject"});
  const std::string stream = target.uri.required_param("stream", "e.g. ?stream=ORDERS");
  const std::string subject = target.uri.required_param("subject", "e.g. &subject=ORDERS.events");
  reflex::rnats::Relay relay(
      connect_nats(target, "reflexctl-relay"),
      {.name = o.consumer,
       .source = open_source(o.source),
       .stream = stream,
       .subject = subject,
       .cursors = o.cursors.empty()
                      ? nullptr
                      : open_cursor_store(o.cursors, {.buffered = true, .create = true}),
       .start_after = ""});
  SignalStop signals;
  std::stop_source stop;
  std::stop_callback forward(signals.token(), [&] { stop.request_stop(); });
  std::jthread watcher;
  if (o.to_head) {
    const std::string head = open_events_table(o.source).head();
    // Ends the run once the relay's cursor (recovered from the stream at start, then each
    // acknowledgement) reaches the head; woken by the relay, no polling.
    watcher = std::jthread([&relay, &stop, head](std::stop_token own) {
      if (relay.wait_for(own, [&](const reflex::rnats::RelayStats& s) {
            return at_or_past(s.cursor, head);
          })) {
        stop.request_stop();
      }
    });
  }
  relay.run(stop.get_token());
  const auto stats = relay.stats();
  std::fprintf(stderr, "relay %s: %llu new events acknowledged, cursor %s\n", o.consumer.c_str(),
               static_cast<unsigned long long>(stats.acknowledged),
               stats.cursor.empty() ? "(none)" : stats.cursor.c_str());
  return 0;
#else
  (void)o;
  throw UsageError("this reflexctl was built without NATS support");
#endif
}

}  // namespace

Run add_relay(CLI::App& app) {
  auto o = std::make_shared<RelayCommandOptions>();
  auto* cmd = app.add_subcommand("relay", "relay an outbox into a JetStream stream, exactly once");
  cmd->add_option("SOURCE", o->source, "the events to relay, normally an SQL outbox");
  cmd->add_option("NATS", o->target,
                  "nats://[USER:PW@]HOST:PORT[,…]?stream=S&subject=X (or tls://…)");
  cmd->add_option("--consumer", o->consumer,
                  "the relay's name: message ids are \"NAME:<event id>\"")
      ->type_name("NAME");
  cmd->add_option("--cursors", o->cursors,
                  "also record the relay's progress here (the resume point when the stream "
                  "holds none of its messages any more)")
      ->type_name("STORE");
  cmd->add_flag("--to-head", o->to_head,
                "exit 0 once the SQL source's newest event (at start) is acknowledged");
  cmd->footer(text(R"(
Relays SOURCE into the JetStream stream S, exactly once and in order (message ids "NAME:<event
id>"); resumes from the stream itself after any stop or crash, so --to-head exits at once when
the stream already holds the newest event. The NATS address keeps its user and password (or
token), tls:// and comma-separated servers of one cluster.)"));
  return [o] { return relay(*o); };
}

}  // namespace reflexctl
