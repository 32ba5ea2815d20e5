// reflexctl backfill: runs a COMMAND on every event (or batch of events) of a stream, with a
// stored cursor that advances only after the COMMAND succeeded.

#include "reflex/rpatterns/backfill.hpp"

#include <unistd.h>

#include <cstdio>
#include <memory>

#include "commands/commands.hpp"
#include "errors.hpp"
#include "json.hpp"
#include "reflex/errors.hpp"
#include "reflex/reflex.hpp"
#include "reflex/rpatterns/batch.hpp"
#include "signals.hpp"
#include "sources.hpp"
#include "spawn.hpp"

namespace reflexctl {
namespace {

struct BackfillOptions {
  std::string source;
  std::string consumer;
  std::string cursors;
  std::size_t batch = 1;
  bool to_head = false;
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
  const auto stream = open_source(o.source);
  const auto cursors = open_cursor_store(o.cursors, {.buffered = false, .create = true});
  auto spec = reflex::rpatterns::batch_spec(
      stream, cursors, o.consumer,
      [&](std::stop_token, std::span<const reflex::Event> events) {
        std::string input;
        for (const auto& e : events) input += to_json(e) + "\n";
        if (const int status = run_command(command, input); status != 0)
          throw CommandFailed(status);
      },
      {.max_size = o.batch});
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
    if (o.to_head) {
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
  if (cursor.empty()) cursor = cursors->get(o.consumer);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (terminal) std::fputc('\n', stderr);
  std::fprintf(stderr, "backfill %s: %llu events in %.1f s, cursor %s%s%s\n", o.consumer.c_str(),
               static_cast<unsigned long long>(events), seconds,
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
  cmd->add_option("--consumer", o->consumer, "the consumer's name: its cursor's key")
      ->type_name("NAME");
  cmd->add_option("--cursors", o->cursors,
                  "where the cursor is kept (SQL ?table=CURSORS or nats://…?bucket=B)")
      ->type_name("STORE");
  cmd->add_option("--batch", o->batch, "events per run of COMMAND (default 1)")
      ->check(positive_integer())
      ->type_name("N");
  cmd->add_flag("--to-head", o->to_head, "stop at the newest event (a backfill job)");
  cmd->footer(text(R"(
Runs COMMAND once per batch of N events, the batch as JSON lines (as `reflexctl tail` prints
them) on its stdin; everything after "--" is COMMAND and its arguments. The cursor NAME
advances only after COMMAND exits 0; a failing COMMAND stops the job with its exit status and
the cursor at the last success, so running it again resumes there. Progress on stderr when it
is a terminal; a summary line at the end.)"));
  return [o, &command] { return backfill(*o, command); };
}

}  // namespace reflexctl
