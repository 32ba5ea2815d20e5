// reflexctl: the operator's tool for reflex streams, outboxes and cursors.
// Exit codes: 0 success, 1 runtime error (server down, failed write), 2 usage error (bad
// arguments, malformed URI, unknown scheme, missing table, invalid name, a cursor that is no id).

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "json.hpp"
#include "reflex/errors.hpp"
#include "reflex/reflex.hpp"
#include "reflex/rpatterns/backfill.hpp"
#include "reflex/rpatterns/batch.hpp"
#include "reflex/rsql/rsql.hpp"
#if defined(REFLEXCTL_WITH_NATS)
#include "reflex/rnats/rnats.hpp"
#include "reflex/uri.hpp"
#endif
#include "reflex/version.hpp"
#include "sources.hpp"
#if defined(REFLEXCTL_WITH_GRPC)
#include "http.hpp"
#include "reflex/rgrpc/client.hpp"
#include "reflex/rgrpc/server.hpp"
#endif
#if defined(REFLEXCTL_WITH_PROMETHEUS)
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "reflex/prometheus/metrics.hpp"
#endif

extern char** environ;

namespace {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

constexpr const char* kHelp =
    R"(reflexctl — tail, publish and inspect reflex event streams and cursors

usage: reflexctl COMMAND [ARGS]   (reflexctl COMMAND --help for details)

commands:
  tail SOURCE      print events as JSON lines
  backfill SOURCE  run a command on every event (or batch) with a stored cursor
  relay SOURCE NATS  relay an outbox into a JetStream stream, exactly once
  publish SOURCE   insert events read as JSON lines from stdin into an SQL outbox
  serve            serve streams to peers over gRPC, with /metrics, /healthz, /readyz
  cursors          list, get, set or delete consumer cursors
  schema DIALECT   print the DDL of the events, cursors and errors tables

sources:  postgresql://USER[:PW]@HOST:PORT/DB?table=T   mysql://USER[:PW]@HOST:PORT/DB?table=T
          sqlite:///ABS/PATH?table=T   grpc://HOST:PORT   grpcs://HOST:PORT   nats://HOST:PORT?stream=S
cursor stores: an SQL DSN with ?table=CURSORS_TABLE, or nats://HOST:PORT?bucket=B
)";

const std::map<std::string, std::string> kCommandHelp = {
    {"tail",
     R"(usage: reflexctl tail SOURCE [--after CURSOR] [--from-head] [--to-head] [--lag DURATION]
                      [--types 1,2] [--limit N]
Prints one JSON object per event: {"id","type","foreign_id","timestamp","metadata","trace"}
(metadata and trace base64, omitted when empty). Exits 0 at the head with --to-head or after
--limit events; otherwise follows until SIGINT/SIGTERM. DURATION: 500ms, 2s, 5m, 1h.
)"},
    {"backfill",
     R"(usage: reflexctl backfill SOURCE --consumer NAME --cursors STORE [--batch N] [--to-head]
                          -- COMMAND [ARGS…]
Runs COMMAND once per batch of N events (default 1), the batch as JSON lines on its stdin. The
cursor NAME advances only after COMMAND exits 0; a failing COMMAND stops the job with its exit
status and the cursor at the last success, so running it again resumes there. --to-head stops at
the head (a backfill job). Progress on stderr when it is a terminal; a summary line at the end.
)"},
    {"relay", R"(usage: reflexctl relay SOURCE nats://HOST:PORT?stream=S&subject=X --consumer NAME
                       [--cursors STORE] [--to-head]
Relays SOURCE (normally an SQL outbox) into the JetStream stream S, exactly once and in order
(message ids "NAME:<event id>"); resumes from the stream itself after any stop or crash.
--to-head stops once an SQL source's newest event is acknowledged.
)"},
    {"publish", R"(usage: reflexctl publish SQL-SOURCE [--batch N]
Reads JSON lines {"foreign_id":"…","type":N,"metadata":"base64","trace":"base64"} from stdin and
inserts them, N per transaction (default 1), waking followers after each commit. A bad line stops
the run with its line number; the lines before it are written, nothing after it.
)"},
    {"cursors", R"(usage: reflexctl cursors list STORE
       reflexctl cursors get STORE NAME
       reflexctl cursors set STORE NAME VALUE [--force]
       reflexctl cursors delete STORE NAME
STORE: an SQL DSN with ?table=CURSORS_TABLE, or nats://HOST:PORT?bucket=B (a KV bucket).
`list` prints one NAME<TAB>CURSOR line per cursor, by name. `set` refuses to move a cursor
backwards unless --force. `delete` exits 1 when NAME has no cursor.
)"},
    {"serve",
     R"(usage: reflexctl serve --listen HOST:PORT --stream NAME=SOURCE [--stream NAME=SOURCE…]
                       [--http HOST:PORT] [--tls-cert FILE --tls-key FILE] [--token-file FILE]
A reflexpb gRPC endpoint (/reflexpb.Reflex/Stream, wire-compatible with Go reflex clients). The
first stream is the default; a call picks another with the metadata "reflex-stream: NAME"
(reflexctl tail grpc://HOST:PORT?stream=NAME). --http serves /metrics (Prometheus text), /healthz
(live) and /readyz (every source reachable). With --token-file, calls need
"authorization: Bearer <token>". SIGINT/SIGTERM drain: open streams end with Stopped, exit 0.
Environment (used when the flag is absent): REFLEX_LISTEN, REFLEX_STREAMS (NAME=SOURCE entries
separated by spaces or newlines), REFLEX_HTTP, REFLEX_TLS_CERT, REFLEX_TLS_KEY, REFLEX_TOKEN_FILE.
)"},
    {"schema",
     R"(usage: reflexctl schema postgres|mysql|sqlite [--events T] [--cursors T] [--errors T]
Prints the DDL reflex expects (CREATE … IF NOT EXISTS).
)"},
};

/// Positional arguments and --flags of one subcommand.
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> values;  // every value, in order
  std::set<std::string> switches;

  Args(int argc, char** argv, int first, const std::set<std::string>& with_value,
       const std::set<std::string>& without_value) {
    for (int i = first; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg.starts_with("--")) {
        if (with_value.contains(arg)) {
          if (i + 1 >= argc) throw UsageError(arg + " needs a value");
          values[arg].push_back(argv[++i]);
        } else if (without_value.contains(arg)) {
          switches.insert(arg);
        } else {
          throw UsageError("unknown option " + arg);
        }
      } else {
        positional.push_back(arg);
      }
    }
  }
  /// The flag's last value.
  [[nodiscard]] std::optional<std::string> value(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? std::nullopt : std::optional(it->second.back());
  }
  /// The flag's value, else the environment variable's (for container use), else none.
  [[nodiscard]] std::optional<std::string> value_or_env(const std::string& name,
                                                        const char* variable) const {
    if (auto v = value(name)) return v;
    if (const char* env = std::getenv(variable); env && *env) return std::string(env);
    return std::nullopt;
  }
  [[nodiscard]] std::vector<std::string> all(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? std::vector<std::string>{} : it->second;
  }
};

std::int64_t parse_count(const std::string& flag, const std::string& text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value <= 0) {
    throw UsageError(flag + " needs a positive integer, got '" + text + "'");
  }
  return value;
}

std::chrono::milliseconds parse_duration(const std::string& text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  if (ec != std::errc() || value < 0) throw UsageError("--lag needs a duration like 500ms or 2s");
  if (unit == "ms") return std::chrono::milliseconds(value);
  if (unit == "s") return std::chrono::seconds(value);
  if (unit == "m") return std::chrono::minutes(value);
  if (unit == "h") return std::chrono::hours(value);
  throw UsageError("--lag needs a unit: ms, s, m or h (got '" + text + "')");
}

/// Stops on SIGINT/SIGTERM (signals are blocked in every thread and taken here).
class SignalStop {
 public:
  SignalStop() {
    watcher_ = std::jthread([this](std::stop_token own) {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGINT);
      sigaddset(&set, SIGTERM);
      while (!own.stop_requested()) {
        timespec timeout{0, 100'000'000};
        if (sigtimedwait(&set, nullptr, &timeout) > 0) {
          source_.request_stop();
          return;
        }
      }
    });
  }
  [[nodiscard]] std::stop_token token() const { return source_.get_token(); }

 private:
  std::stop_source source_;
  std::jthread watcher_;
};

int tail(int argc, char** argv) {
  const Args args(argc, argv, 2, {"--after", "--lag", "--types", "--limit"},
                  {"--from-head", "--to-head"});
  if (args.positional.size() != 1) throw UsageError("tail needs one SOURCE");
  const auto stream = reflexctl::open_source(args.positional[0]);
  std::set<int> types;
  if (auto list = args.value("--types")) {
    std::size_t start = 0;
    while (start <= list->size()) {
      const auto comma = list->find(',', start);
      const std::string one =
          list->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      types.insert(static_cast<int>(parse_count("--types", one)));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  const std::int64_t limit =
      args.value("--limit") ? parse_count("--limit", *args.value("--limit")) : 0;
  const reflex::StreamOptions options{.lag = args.value("--lag")
                                                 ? parse_duration(*args.value("--lag"))
                                                 : std::chrono::milliseconds{},
                                      .from_head = args.switches.contains("--from-head"),
                                      .to_head = args.switches.contains("--to-head")};
  SignalStop signals;
  auto client = stream(signals.token(), args.value("--after").value_or(""), options);
  std::int64_t printed = 0;
  try {
    while (limit == 0 || printed < limit) {
      const auto event = client->recv();
      if (!types.empty() && !types.contains(event.type)) continue;
      std::fputs((reflexctl::to_json(event) + "\n").c_str(), stdout);
      std::fflush(stdout);
      ++printed;
    }
  } catch (const reflex::HeadReached&) {
  } catch (const reflex::Canceled&) {
  }
  return 0;
}

/// A failing COMMAND of a backfill: its exit status is the job's.
class CommandFailed final : public reflex::Error {
 public:
  explicit CommandFailed(int status)
      : reflex::Error("command exited with status " + std::to_string(status)), status_(status) {}
  [[nodiscard]] int status() const noexcept { return status_; }

 private:
  int status_;
};

/// Runs `command` with `input` on its stdin; returns its exit status (128+signal when killed).
int run_command(const std::vector<std::string>& command, const std::string& input) {
  std::vector<char*> argv;
  for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int in[2];
  if (pipe(in) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_addclose(&actions, in[1]);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  if (rc != 0) {
    close(in[1]);
    throw UsageError("cannot run '" + command[0] + "': " + std::strerror(rc));
  }
  std::size_t done = 0;
  while (done < input.size()) {
    const auto n = write(in[1], input.data() + done, input.size() - done);
    if (n <= 0) break;  // the command does not read its input: fine
    done += static_cast<std::size_t>(n);
  }
  close(in[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int backfill(int argc, char** argv) {
  // Everything after "--" is the command.
  int split = argc;
  for (int i = 2; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      split = i;
      break;
    }
  }
  const Args args(split, argv, 2, {"--consumer", "--cursors", "--batch"}, {"--to-head"});
  const std::vector<std::string> command(argv + std::min(split + 1, argc), argv + argc);
  if (args.positional.size() != 1) throw UsageError("backfill needs one SOURCE");
  if (command.empty()) throw UsageError("backfill needs a COMMAND after --");
  const auto name = args.value("--consumer");
  const auto store = args.value("--cursors");
  if (!name || !store) throw UsageError("backfill needs --consumer NAME and --cursors STORE");
  const auto batch = static_cast<std::size_t>(
      args.value("--batch") ? parse_count("--batch", *args.value("--batch")) : 1);
  const auto stream = reflexctl::open_source(args.positional[0]);
  const auto cursors = reflexctl::open_cursor_store(*store);
  auto spec = reflex::rpatterns::batch_spec(
      stream, cursors, *name,
      [&](std::stop_token, std::span<const reflex::Event> events) {
        std::string input;
        for (const auto& e : events) input += reflexctl::to_json(e) + "\n";
        if (const int status = run_command(command, input); status != 0)
          throw CommandFailed(status);
      },
      {.max_size = batch});
  SignalStop signals;
  const bool terminal = isatty(2) != 0;
  const auto progress = [&](const reflex::rpatterns::BackfillProgress& p) {
    if (!terminal) return;
    std::fprintf(stderr, "\r%llu events, %.0f/s%s", static_cast<unsigned long long>(p.events),
                 p.events_per_second,
                 p.remaining ? (", " + std::to_string(*p.remaining) + " left").c_str() : "");
  };
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t events = 0;
  std::string cursor;
  bool head = false;
  int status = 0;
  try {
    if (args.switches.contains("--to-head")) {
      const auto summary =
          reflex::rpatterns::backfill(signals.token(), spec, {.on_progress = progress});
      events = summary.events;
      cursor = summary.cursor;
      head = summary.reached_head;
    } else {
      reflex::run(signals.token(), spec);
    }
  } catch (const std::exception& e) {
    const auto* failed = reflex::find_error<CommandFailed>(e);
    if (!failed) throw;
    status = failed->status();
  }
  if (cursor.empty()) cursor = cursors->get(*name);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (terminal) std::fputc('\n', stderr);
  std::fprintf(stderr, "backfill %s: %llu events in %.1f s, cursor %s%s%s\n", name->c_str(),
               static_cast<unsigned long long>(events), seconds,
               cursor.empty() ? "(none)" : cursor.c_str(), head ? ", reached the head" : "",
               status ? (", command failed with status " + std::to_string(status)).c_str() : "");
  return status;
}

int relay(int argc, char** argv) {
#if defined(REFLEXCTL_WITH_NATS)
  const Args args(argc, argv, 2, {"--consumer", "--cursors"}, {"--to-head"});
  if (args.positional.size() != 2)
    throw UsageError("relay needs SOURCE and nats://HOST:PORT?stream=S&subject=X");
  const auto name = args.value("--consumer");
  if (!name) throw UsageError("relay needs --consumer NAME (it names the relay's message ids)");
  const auto target = reflex::parse_uri(args.positional[1]);
  if (target.scheme != "nats")
    throw UsageError("relay publishes to nats://HOST:PORT?stream=S&subject=X");
  target.check_params({"stream", "subject"});
  const std::string stream_name = target.required_param("stream", "e.g. ?stream=ORDERS");
  const std::string subject = target.required_param("subject", "e.g. &subject=ORDERS.events");
  std::string url = "nats://" + target.host + ":" + std::to_string(target.port.value_or(4222));
  reflex::rnats::Connection conn({.url = url, .name = "reflexctl-relay"});
  reflex::rnats::Relay relay(
      conn,
      {.name = *name,
       .source = reflexctl::open_source(args.positional[0]),
       .stream = stream_name,
       .subject = subject,
       .cursors = args.value("--cursors") ? reflexctl::open_cursor_store(*args.value("--cursors"))
                                          : nullptr,
       .start_after = ""});
  SignalStop signals;
  std::stop_source stop;
  std::stop_callback forward(signals.token(), [&] { stop.request_stop(); });
  std::jthread watcher;
  if (args.switches.contains("--to-head")) {
    if (!reflexctl::is_sql(args.positional[0]))
      throw UsageError("relay --to-head needs an SQL source");
    const auto table = reflexctl::open_events_table(args.positional[0]);
    watcher = std::jthread([&, table](std::stop_token own) {
      const std::string head = table.head();
      while (!own.stop_requested() && !stop.stop_requested()) {
        if (relay.stats().cursor == head) {
          stop.request_stop();
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  relay.run(stop.get_token());
  const auto stats = relay.stats();
  std::fprintf(stderr, "relay %s: %llu events acknowledged, cursor %s\n", name->c_str(),
               static_cast<unsigned long long>(stats.acknowledged), stats.cursor.c_str());
  return 0;
#else
  (void)argc;
  (void)argv;
  throw UsageError("this reflexctl was built without NATS support");
#endif
}

reflex::rsql::NewEvent event_from_line(const std::string& line) {
  const auto fields = reflexctl::parse_flat_object(line);
  reflex::rsql::NewEvent event;
  for (const auto& [key, value] : fields) {
    if (key == "foreign_id") {
      event.foreign_id = value;
    } else if (key == "type") {
      int type = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), type);
      if (ec != std::errc() || end != value.data() + value.size()) {
        throw std::invalid_argument("\"type\" must be an integer");
      }
      event.type = type;
    } else if (key == "metadata" || key == "trace") {
      auto bytes = reflexctl::base64_decode(value);
      if (!bytes) throw std::invalid_argument("\"" + key + "\" must be base64");
      (key == "metadata" ? event.metadata : event.trace) = std::move(*bytes);
    } else {
      throw std::invalid_argument("unknown field \"" + key + "\"");
    }
  }
  if (!fields.contains("type")) throw std::invalid_argument("\"type\" is missing");
  return event;
}

int publish(int argc, char** argv) {
  const Args args(argc, argv, 2, {"--batch"}, {});
  if (args.positional.size() != 1) throw UsageError("publish needs one SQL SOURCE");
  if (!reflexctl::is_sql(args.positional[0])) {
    throw UsageError(
        "publish writes to an SQL outbox: give postgresql://, mysql:// or sqlite:/// with "
        "?table=T");
  }
  const auto batch = static_cast<std::size_t>(
      args.value("--batch") ? parse_count("--batch", *args.value("--batch")) : 1);
  const auto table = reflexctl::open_events_table(args.positional[0]);
  std::vector<reflex::rsql::NewEvent> pending;
  std::string line;
  std::size_t number = 0;
  std::size_t written = 0;
  while (std::getline(std::cin, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      pending.push_back(event_from_line(line));
    } catch (const std::invalid_argument& e) {
      table.publish(pending);
      written += pending.size();
      std::cerr << "reflexctl publish: line " << number << ": " << e.what() << " (" << written
                << " events written before it)\n";
      return 1;
    }
    if (pending.size() >= batch) {
      table.publish(pending);
      written += pending.size();
      pending.clear();
    }
  }
  table.publish(pending);
  written += pending.size();
  std::cerr << "reflexctl publish: " << written << " events written\n";
  return 0;
}

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

int cursors(int argc, char** argv) {
  const Args args(argc, argv, 2, {}, {"--force"});
  const auto& p = args.positional;
  if (p.size() < 2)
    throw UsageError("cursors needs an action and a STORE (see reflexctl cursors --help)");
  const std::string& action = p[0];
  const auto store = reflexctl::open_cursor_store(p[1], /*create=*/false);
  if (action == "list" && p.size() == 2) {
    for (const auto& [name, cursor] : with_repairable(*store, [](auto& s) { return s.list(); })) {
      std::cout << name << '\t' << cursor << '\n';
    }
    return 0;
  }
  if (action == "get" && p.size() == 3) {
    std::cout << store->get(p[2]) << '\n';
    return 0;
  }
  if (action == "set" && p.size() == 4) {
    if (args.switches.contains("--force")) {
      with_repairable(*store, [&](auto& s) { s.force_set(p[2], p[3]); });
    } else {
      const std::string current = store->get(p[2]);
      const auto now = reflex::parse_int64(current);
      const auto next = reflex::parse_int64(p[3]);
      if (now && next && *next < *now) {
        throw UsageError("refusing to move cursor '" + p[2] + "' back from " + current + " to " +
                         p[3] + ": add --force to rewind on purpose");
      }
      store->set(p[2], p[3]);
      store->flush();
    }
    return 0;
  }
  if (action == "delete" && p.size() == 3) {
    if (!with_repairable(*store, [&](auto& s) { return s.remove(p[2]); })) {
      std::cerr << "reflexctl cursors: no cursor named '" << p[2] << "'\n";
      return 1;
    }
    return 0;
  }
  throw UsageError("cursors: unknown action or wrong arguments (see reflexctl cursors --help)");
}

#if defined(REFLEXCTL_WITH_GRPC)
/// Whether a source answers: opens it at its head with to_head and reads once (HeadReached or an
/// event both prove it reachable). Empty when it does, else why not.
std::string probe(const reflex::StreamFunc& stream, std::chrono::milliseconds timeout) {
  std::stop_source stop;
  std::jthread timer([&](std::stop_token own) {
    if (reflex::sleep_for(own, timeout)) stop.request_stop();
  });
  try {
    auto client = stream(stop.get_token(), "", {.from_head = true, .to_head = true});
    (void)client->recv();
    return {};
  } catch (const reflex::HeadReached&) {
    return {};
  } catch (const reflex::Canceled&) {
    return "no answer within " + std::to_string(timeout.count()) + " ms";
  } catch (const std::exception& e) {
    return e.what();
  }
}

/// The Prometheus text of the server's own counters.
std::string serve_metrics(const reflex::rgrpc::StreamStats& stats) {
  std::string out;
  const auto add = [&](const char* name, const char* type, const char* help, std::uint64_t value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(value) + "\n";
  };
  add("reflex_serve_open_streams", "gauge", "Streams open now.", stats.open_streams);
  add("reflex_serve_streams_total", "counter", "Streams accepted since start.",
      stats.streams_started);
  add("reflex_serve_refused_total", "counter",
      "Calls refused (token, unknown stream, max streams, stopping).", stats.streams_refused);
  add("reflex_serve_events_sent_total", "counter", "Events handed to gRPC.", stats.events_sent);
  return out;
}
#endif

int serve(int argc, char** argv) {
#if defined(REFLEXCTL_WITH_GRPC)
  const Args args(argc, argv, 2,
                  {"--listen", "--stream", "--http", "--tls-cert", "--tls-key", "--token-file"},
                  {});
  if (!args.positional.empty()) {
    throw UsageError("serve takes no positional arguments; streams are --stream NAME=SOURCE");
  }
  const auto listen = args.value_or_env("--listen", "REFLEX_LISTEN");
  if (!listen) throw UsageError("serve needs --listen HOST:PORT (or REFLEX_LISTEN)");
  std::vector<std::string> specs = args.all("--stream");
  if (specs.empty()) {
    if (const char* env = std::getenv("REFLEX_STREAMS")) {
      std::istringstream words(env);
      for (std::string word; words >> word;) specs.push_back(word);
    }
  }
  if (specs.empty()) {
    throw UsageError("serve needs at least one --stream NAME=SOURCE (or REFLEX_STREAMS)");
  }

#if defined(REFLEXCTL_WITH_PROMETHEUS)
  // Declared first: the registry outlives every recorder the sources hold.
  ::prometheus::Registry registry;
  auto metrics = std::make_shared<reflex::prometheus::Metrics>(registry);
#else
  std::shared_ptr<reflex::MetricsObserver> metrics;
#endif
  reflex::rgrpc::Endpoint endpoint;
  std::vector<std::string> names;
  for (const auto& spec : specs) {
    const auto eq = spec.find('=');
    const std::string name = spec.substr(0, eq);
    const bool valid_name =
        eq != std::string::npos && !name.empty() &&
        name.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
            std::string::npos;
    if (!valid_name) {
      throw UsageError(
          "--stream needs NAME=SOURCE with NAME of letters, digits, '_', '.' or '-' (got '" + spec +
          "')");
    }
    if (endpoint.named.contains(name)) throw UsageError("stream '" + name + "' is given twice");
    auto stream = reflexctl::open_source(spec.substr(eq + 1), metrics);
    if (!endpoint.stream) endpoint.stream = stream;
    endpoint.named.emplace(name, std::move(stream));
    names.push_back(name);
  }

  reflex::rgrpc::ServerOptions options{.listen = *listen};
  const auto cert = args.value_or_env("--tls-cert", "REFLEX_TLS_CERT");
  const auto key = args.value_or_env("--tls-key", "REFLEX_TLS_KEY");
  if (cert.has_value() != key.has_value())
    throw UsageError("TLS needs both --tls-cert and --tls-key");
  if (cert) options.tls = reflex::rgrpc::ServerTls::from_files(*cert, *key);
  if (const auto token_file = args.value_or_env("--token-file", "REFLEX_TOKEN_FILE")) {
    options.token = reflex::rgrpc::read_token_file(*token_file);
  }
  SignalStop signals;
  reflex::rgrpc::Server server({endpoint}, options);

  std::optional<reflexctl::HttpServer> http;
  if (const auto http_listen = args.value_or_env("--http", "REFLEX_HTTP")) {
    http.emplace(*http_listen, [&](std::string_view path) -> reflexctl::HttpResponse {
      if (path == "/healthz") return {.body = "ok\n"};
      if (path == "/readyz") {
        std::string failures;
        for (const auto& name : names) {
          if (auto why = probe(endpoint.named.at(name), std::chrono::seconds(2)); !why.empty())
            failures += name + ": " + why + "\n";
        }
        if (failures.empty()) return {.body = "ready\n"};
        return {.status = 503, .body = failures};
      }
      if (path == "/metrics") {
        std::string body;
#if defined(REFLEXCTL_WITH_PROMETHEUS)
        body = ::prometheus::TextSerializer().Serialize(registry.Collect());
#endif
        body += serve_metrics(server.stats());
        return {.content_type = "text/plain; version=0.0.4; charset=utf-8", .body = body};
      }
      return {.status = 404, .body = "not found: try /metrics, /healthz or /readyz\n"};
    });
  }
  std::string list;
  for (const auto& name : names) list += (list.empty() ? "" : ", ") + name;
  std::fprintf(stderr, "reflexctl serve: gRPC on %s (streams: %s; default %s)%s\n",
               server.address().c_str(), list.c_str(), names.front().c_str(),
               http ? (", HTTP on port " + std::to_string(http->port())).c_str() : "");
  std::fflush(stderr);

  while (reflex::sleep_for(signals.token(), std::chrono::hours(1))) {
  }
  server.stop();
  const auto stats = server.stats();
  std::fprintf(stderr, "reflexctl serve: stopped; %llu streams served, %llu events sent\n",
               static_cast<unsigned long long>(stats.streams_started),
               static_cast<unsigned long long>(stats.events_sent));
  return 0;
#else
  (void)argc;
  (void)argv;
  throw UsageError("this reflexctl was built without gRPC support");
#endif
}

int schema(int argc, char** argv) {
  const Args args(argc, argv, 2, {"--events", "--cursors", "--errors"}, {});
  if (args.positional.size() != 1)
    throw UsageError("schema needs a dialect: postgres, mysql or sqlite");
  const std::string& name = args.positional[0];
  reflex::rsql::Dialect dialect;
  if (name == "postgres" || name == "postgresql")
    dialect = reflex::rsql::Dialect::postgres;
  else if (name == "mysql" || name == "mariadb")
    dialect = reflex::rsql::Dialect::mysql;
  else if (name == "sqlite")
    dialect = reflex::rsql::Dialect::sqlite;
  else
    throw UsageError("unknown dialect '" + name + "': use postgres, mysql or sqlite");
  std::cout
      << reflex::rsql::events_ddl(dialect, {.table = args.value("--events").value_or("events")})
      << ";\n\n"
      << reflex::rsql::cursors_ddl(dialect, {.table = args.value("--cursors").value_or("cursors")})
      << ";\n\n"
      << reflex::rsql::errors_ddl(dialect, {.table = args.value("--errors").value_or("errors")})
      << ";\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by one thread (SignalStop); block them before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  const std::string command = argc > 1 ? argv[1] : "";
  if (command.empty() || command == "--help" || command == "-h" || command == "help") {
    std::cout << kHelp;
    return command.empty() ? 2 : 0;
  }
  if (command == "--version") {
    std::cout << "reflexctl " << reflex::version_string << '\n';
    return 0;
  }
  for (int i = 2; i < argc && std::string(argv[i]) != "--"; ++i) {
    if (std::string(argv[i]) == "--help" && kCommandHelp.contains(command)) {
      std::cout << kCommandHelp.at(command);
      return 0;
    }
  }
  try {
    if (command == "tail") return tail(argc, argv);
    if (command == "publish") return publish(argc, argv);
    if (command == "backfill") return backfill(argc, argv);
    if (command == "relay") return relay(argc, argv);
    if (command == "cursors") return cursors(argc, argv);
    if (command == "schema") return schema(argc, argv);
    if (command == "serve") return serve(argc, argv);
    throw UsageError("unknown command '" + command + "' (reflexctl --help lists them)");
  } catch (const UsageError& e) {
    std::cerr << "reflexctl " << command << ": " << e.what() << '\n';
    return 2;
  } catch (const reflex::ConfigError& e) {
    std::cerr << "reflexctl " << command << ": " << e.what() << '\n';
    return 2;
  } catch (const reflex::CursorError& e) {  // a cursor given on the command line that is not one
    std::cerr << "reflexctl " << command << ": " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "reflexctl " << command << ": " << e.what() << '\n';
    return 1;
  }
}
