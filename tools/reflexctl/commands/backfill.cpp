// reflexctl backfill: runs a COMMAND on every event (or batch of events) of a stream, with a
// stored cursor that advances only after the COMMAND succeeded; shows its progress and rides out
// outages of the source and the cursor store.

#include <unistd.h>

#include <cstdio>
#include <memory>

#include "commands/commands.hpp"
#include "errors.hpp"
#include "json.hpp"
#include "outages.hpp"
#include "progress.hpp"
#include "reflex/errors.hpp"
#include "reflex/reflex.hpp"
#include "reflex/rpatterns/batch.hpp"
#include "reflex/wait.hpp"
#include "signals.hpp"
#include "sources.hpp"
#include "spawn.hpp"

namespace reflexctl {
namespace {

struct BackfillOptions {
  std::string source;
  std::string primary;
  std::string consumer;
  std::string cursors;
  std::size_t batch = 1;
  bool to_head = false;
  bool no_retry = false;
  std::string progress_every = "5s";
  std::vector<std::string> misplaced;
};

/// A failing COMMAND of a backfill: its exit status is the job's.
class CommandFailed final : public reflex::Error {
 public:
  explicit CommandFailed(int status)
      : reflex::Error("command exited with status " + std::to_string(status)), status_(status) {}
  [[nodiscard]] int status() const noexcept { return status_; }

 private:
  int status_;
};

int backfill(const BackfillOptions& o, const std::vector<std::string>& command) {
  require(o.source, "needs one SOURCE (reflexctl help backfill)");
  if (!o.misplaced.empty()) {
    throw UsageError("takes one SOURCE; put COMMAND after \"--\" (got '" + o.misplaced.front() +
                     "' before it)");
  }
  if (command.empty()) throw UsageError("needs a COMMAND after --");
  if (o.consumer.empty() || o.cursors.empty())
    throw UsageError("needs --consumer NAME and --cursors STORE");
  const auto every = parse_duration("--progress-every", o.progress_every);
  const std::string source = with_primary(o.source, o.primary);
  const auto stream = open_source(source);
  const std::string source_shown = "source " + shown(source);
  const std::string store_shown = "cursor store " + shown(o.cursors);
  // The store's failures are told as the store's, not as the COMMAND's whose cursor it was.
  const auto cursors = std::make_shared<JobCursorStore>(
      o.cursors, CursorStoreUse{.buffered = false, .create = true});

  Progress progress({.terminal = isatty(2) != 0,
                     .every = every,
                     .head = open_head(source),
                     .label = "reflexctl backfill " + o.consumer});
  const auto spec = reflex::rpatterns::batch_spec(
      stream, cursors, o.consumer,
      [&](std::stop_token, std::span<const reflex::Event> events) {
        std::string input;
        for (const auto& e : events) input += to_json(e) + "\n";
        if (const int status = run_command(command, input); status != 0)
          throw CommandFailed(status);
        progress.done(events.size(), events.back().id);
      },
      {.max_size = o.batch, .stream = {.to_head = o.to_head}});
  SignalStop signals;
  const auto stop = signals.token();
  OutageLog outage("backfill", [&](std::string_view line) { progress.print(line); });
  Backoff backoff;
  const auto started = std::chrono::steady_clock::now();
  bool head = false;
  bool at_start = true;
  int status = 0;
  for (;;) {
    try {
      if (at_start) {
        progress.start_at(cursors->get(o.consumer));
        at_start = false;
      }
      if (outage.is_down()) {
        // Whatever failed must answer before the outage counts as over.
        if (outage.what() == store_shown) {
          // A read from the store's server: it also learns what a write that timed out left
          // there (a NATS KV revision), so the next write is not taken for another runner's.
          cursors->check(o.consumer);
        } else if (auto failure = probe(stop, stream, std::chrono::seconds(5))) {
          std::rethrow_exception(failure);
        }
        outage.back();
        backoff.reset();
      }
      reflex::run(stop, spec);  // returns when stopped
      break;
    } catch (...) {
      const auto failure = std::current_exception();
      if (reflex::find_error<reflex::HeadReached>(failure) != nullptr) {
        head = true;
        break;
      }
      if (const auto* failed = reflex::find_error<CommandFailed>(failure)) {
        status = failed->status();
        break;
      }
      if (stop.stop_requested()) break;
      if (o.no_retry || !is_transient(failure)) {
        progress.finish();
        throw;
      }
      const auto* store = reflex::find_error<CursorStoreFailure>(failure);
      outage.down(store ? store_shown : source_shown, store ? store->cause() : describe(failure));
      if (!reflex::sleep_for(stop, backoff.next())) break;
    }
  }
  progress.finish();
  std::string cursor = progress.cursor();
  try {
    cursor = cursors->get(o.consumer);
  } catch (const std::exception&) {
    // The store is away: the cursor last done is what the summary can tell.
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto events = static_cast<unsigned long long>(progress.events());
  const bool stopped = !head && status == 0;
  std::fprintf(stderr, "reflexctl backfill %s: %s%llu events in %.1f s, cursor %s%s%s\n",
               o.consumer.c_str(), stopped ? "stopped after " : "", events, seconds,
               cursor.empty() ? "(none)" : cursor.c_str(), head ? ", reached the head" : "",
               status ? (", command failed with status " + std::to_string(status)).c_str() : "");
  return status;
}

}  // namespace

Run add_backfill(CLI::App& app, const std::vector<std::string>& command) {
  auto o = std::make_shared<BackfillOptions>();
  auto* cmd = app.add_subcommand(
      "backfill", "run a command on every event (or batch) of a stream, with a stored cursor");
  cmd->add_option("SOURCE", o->source, "the stream");
  // Only for the help: main.cpp hands the words after "--" over as `command`, so a word that
  // lands here came before the "--".
  cmd->add_option("COMMAND", o->misplaced, "after \"--\": the program to run and its arguments");
  cmd->add_option("--primary", o->primary,
                  "the primary of a PostgreSQL standby SOURCE, which decides holes in the ids")
      ->type_name("DSN");
  cmd->add_option("--consumer", o->consumer, "the consumer's name: its cursor's key")
      ->type_name("NAME");
  cmd->add_option("--cursors", o->cursors,
                  "where the cursor is kept (SQL ?table=CURSORS or nats://…?bucket=B)")
      ->type_name("STORE");
  cmd->add_option("--batch", o->batch, "events per run of COMMAND (default 1)")
      ->check(positive_integer())
      ->type_name("N");
  cmd->add_flag("--to-head", o->to_head, "stop at the newest event (a backfill job)");
  cmd->add_option("--progress-every", o->progress_every,
                  "a progress line this often unless on a terminal (5s; 0s: none)")
      ->type_name("DURATION");
  cmd->add_flag("--no-retry", o->no_retry,
                "exit at the first failure instead of waiting out an outage");
  cmd->footer(text(R"(
Runs COMMAND once per batch of N events, the batch as JSON lines (as `reflexctl tail` prints
them) on its stdin; everything after "--" is COMMAND and its arguments. The cursor NAME
advances only after COMMAND exits 0; a failing COMMAND stops the job with its exit status and
the cursor at the last success, so running it again resumes there.

Progress on stderr: on a terminal a bar redrawn in place (events done, rate, events left to
the source's head and an ETA; SQL and JetStream sources tell their head, gRPC ones do not);
otherwise a line every --progress-every while it moves. A summary line at the end, also after
SIGINT/SIGTERM ("stopped after N events"). An outage of the source or the cursor store (a
server down, a lost connection) is one line when it begins and one when it ends; meanwhile the
job retries with backoff (100ms doubling to 5s) and then resumes at its cursor.)"));
  return [o, &command] { return backfill(*o, command); };
}

}  // namespace reflexctl
