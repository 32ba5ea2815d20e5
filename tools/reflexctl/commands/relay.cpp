// reflexctl relay: the exactly-once outbox relay (reflex::rnats::Relay) as a process.

#include <cstdio>
#include <memory>
#include <thread>

#include "commands/commands.hpp"
#include "errors.hpp"
#include "outages.hpp"
#include "reflex/event.hpp"
#include "reflex/wait.hpp"
#include "sources.hpp"
#if defined(REFLEXCTL_WITH_NATS)
#include "reflex/rnats/rnats.hpp"
#include "signals.hpp"
#endif
#if defined(REFLEXCTL_WITH_NATS) && defined(REFLEXCTL_WITH_GRPC)
#include <optional>

#include "http.hpp"
#include "readiness.hpp"
#include "relay_metrics.hpp"
#define REFLEXCTL_RELAY_HTTP 1
#endif

namespace reflexctl {
namespace {

struct RelayCommandOptions {
  std::string source;
  std::string target;
  std::string consumer;
  std::string cursors;
  bool to_head = false;
  bool create_stream = false;
  std::string http;
  std::string format = "reflex";
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

/// Logs the relay's outages, which it rides out by itself: one line when its source or
/// JetStream fails (RelayStats::recoveries grows), one when it works again (an acknowledgement,
/// or the failed side answering a probe). The relay says nothing itself.
void watch_outages(std::stop_token stop, const reflex::rnats::Relay& relay,
                   const reflex::StreamFunc& source, const reflex::rnats::Connection& nats,
                   const std::string& stream, const std::string& source_shown,
                   const std::string& nats_shown) {
  using Clock = std::chrono::steady_clock;
  OutageLog outage("relay");
  Backoff backoff;
  std::uint64_t recoveries = relay.stats().recoveries;
  std::uint64_t acknowledged = 0;  // at the start of the outage
  // Events flow again: an acknowledgement since the outage began ends it.
  const auto flowing = [&](const reflex::rnats::RelayStats& s) {
    return s.acknowledged > acknowledged;
  };
  bool source_failed = false;
  auto next_probe = Clock::now();
  while (reflex::sleep_for(stop, std::chrono::milliseconds(100))) {
    const auto s = relay.stats();
    if (s.recoveries > recoveries) {
      recoveries = s.recoveries;
      if (!outage.is_down()) {
        source_failed = s.last_error.starts_with("source: ");
        outage.down(source_failed ? source_shown : nats_shown,
                    one_line(source_failed ? s.last_error.substr(8) : s.last_error));
        acknowledged = s.acknowledged;
        backoff.reset();
        next_probe = Clock::now() + backoff.next();
      }
      continue;
    }
    if (!outage.is_down()) continue;
    if (flowing(s)) {
      outage.back();
      continue;
    }
    if (Clock::now() < next_probe) continue;
    bool answers = false;
    if (source_failed) {
      answers = probe(stop, source, std::chrono::seconds(2)) == nullptr;
    } else {
      try {
        answers = nats.connected() && reflex::rnats::stream_info(nats, stream).has_value();
      } catch (const std::exception&) {
      }
    }
    // A failure the relay noted while the probe ran belongs to the same outage: not back yet.
    if (answers && relay.stats().recoveries == recoveries) {
      outage.back();
    } else {
      next_probe = Clock::now() + backoff.next();
    }
  }
  // Stopped within 100 ms of events flowing again: the log still ends the outage it began.
  if (outage.is_down() && flowing(relay.stats())) outage.back();
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
  const auto nats = connect_nats(target, "reflexctl-relay");
  if (!reflex::rnats::stream_info(nats, stream)) {
    if (!o.create_stream) {
      throw UsageError("JetStream stream \"" + stream + "\" does not exist at " + shown(o.target) +
                       ": add --create-stream to create it (subject \"" + subject +
                       "\"), or create it with reflexctl streams ensure");
    }
    (void)reflex::rnats::ensure_stream(nats, {.name = stream, .subjects = {subject}});
    print_error("relay", "created JetStream stream \"" + stream + "\" (subject \"" + subject +
                             "\", file storage, no limits)");
  }
  const auto source = open_source(o.source);
  reflex::rnats::Relay relay(
      nats, {.name = o.consumer,
             .source = source,
             .stream = stream,
             .subject = subject,
             .format = o.format == "windshift" ? reflex::rnats::WireFormat::windshift
                                               : reflex::rnats::WireFormat::reflex,
             .cursors = o.cursors.empty()
                            ? nullptr
                            : open_cursor_store(o.cursors, {.buffered = true, .create = true}),
             .start_after = ""});
#if defined(REFLEXCTL_RELAY_HTTP)
  // --http: /metrics (the relay's progress), /healthz, /readyz (the source and NATS answer).
  std::optional<Readiness> readiness;
  std::optional<HttpServer> http;
  if (!o.http.empty()) {
    const auto address = parse_listen_address(o.http, "--http");
    readiness.emplace(std::vector<ReadinessCheck>{source_check("source", open_source(o.source)),
                                                  nats_check(nats)});
    http.emplace(address,
                 operator_routes(*readiness, {std::make_shared<RelayMetrics>(
                                                 o.consumer, [&relay] { return relay.stats(); })}));
    print_error("relay", "HTTP on port " + std::to_string(http->port()));
  }
#else
  if (!o.http.empty()) throw UsageError("--http needs a reflexctl built with gRPC");
#endif
  SignalStop signals;
  std::stop_source stop;
  std::stop_callback forward(signals.token(), [&] { stop.request_stop(); });
  std::jthread watcher;
  if (o.to_head) {
    const std::string head = open_events_table(o.source, Access::read).head();
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
  std::jthread outages([&](std::stop_token own) {
    watch_outages(own, relay, source, nats, stream, "source " + shown(o.source),
                  "JetStream stream \"" + stream + "\" at " + shown(o.target));
  });
  relay.run(stop.get_token());
  outages = {};  // joined: its lines come before the summary
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
  cmd->add_flag("--create-stream", o->create_stream,
                "create the JetStream stream S when it is missing, with the subject X (file "
                "storage, no limits; `reflexctl streams ensure` sets more)");
  cmd->add_option("--format", o->format,
                  "how events are written: reflex (reflex's headers) or windshift (windshift's "
                  "format: reflexd's EventsService and windshift-go read them; the Any is a "
                  "reflexpb.Event)")
      ->check(CLI::IsMember({"reflex", "windshift"}))
      ->capture_default_str()
      ->type_name("FORMAT");
  cmd->add_option("--http", o->http,
                  "serve /metrics (the relay's progress), /healthz and /readyz here; :0 picks a "
                  "free port")
      ->type_name("HOST:PORT");
  cmd->footer(text(R"(
Relays SOURCE into the JetStream stream S, exactly once and in order (message ids "NAME:<event
id>"); resumes from the stream itself after any stop or crash, so --to-head exits at once when
the stream already holds the newest event. The stream must exist, or --create-stream creates
it. The NATS address keeps its user and password (or token), tls:// and comma-separated
servers of one cluster. The relay rides out outages of the source and of NATS by itself,
retrying with backoff; reflexctl logs one line when one begins and one when it ends. --http
serves reflex_relay_* metrics (published, acknowledged, duplicates, republished, recoveries,
cursor) on /metrics, and /healthz and /readyz.)"));
  return [o] { return relay(*o); };
}

}  // namespace reflexctl
