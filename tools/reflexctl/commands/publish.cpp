// reflexctl publish: inserts events read as JSON lines from stdin into an SQL outbox.

#include <iostream>
#include <memory>
#include <stdexcept>

#include "commands/commands.hpp"
#include "errors.hpp"
#include "json.hpp"
#include "sources.hpp"

namespace reflexctl {
namespace {

struct PublishOptions {
  std::string source;
  std::size_t batch = 1;
};

int publish(const PublishOptions& o) {
  require(o.source, "needs one SQL SOURCE (reflexctl help publish)");
  if (!is_sql(o.source)) {
    throw UsageError(
        "publish writes to an SQL outbox: give postgresql://, mysql:// or sqlite:/// with "
        "?table=T");
  }
  const auto table = open_events_table(o.source);
  std::vector<reflex::rsql::NewEvent> pending;
  std::string line;
  std::size_t number = 0;
  std::size_t written = 0;
  const auto flush = [&] {
    table.publish(pending);
    written += pending.size();
    pending.clear();
  };
  while (std::getline(std::cin, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      pending.push_back(event_from_json(line));
    } catch (const std::invalid_argument& e) {
      flush();  // the lines before the bad one are written, nothing after it
      print_error("publish", "line " + std::to_string(number) + ": " + e.what() + " (" +
                                 std::to_string(written) + " events written before it)");
      return 1;
    }
    if (pending.size() >= o.batch) flush();
  }
  flush();
  std::cerr << "reflexctl publish: " << written << " events written\n";
  return 0;
}

}  // namespace

Run add_publish(CLI::App& app) {
  auto o = std::make_shared<PublishOptions>();
  auto* cmd =
      app.add_subcommand("publish", "insert events read as JSON lines from stdin into an outbox");
  cmd->add_option("SOURCE", o->source, "the SQL outbox: an SQL DSN with ?table=T");
  cmd->add_option("--batch", o->batch, "events per transaction (default 1)")
      ->check(positive_integer())
      ->type_name("N");
  cmd->footer(text(R"(
Each line is one JSON object:
  {"foreign_id":"42","type":1,"metadata":"base64","trace":"base64"}
"type" is required; "metadata" and "trace" may be null or left out (no bytes). Any valid JSON
is read, e.g. Go's "\u003c" escapes or Python's escaped non-ASCII; an unknown field is an
error. N lines are inserted per transaction, waking followers after each commit. A bad line
stops the run (exit 1) naming its line number; the lines before it are written, nothing after
it.)"));
  return [o] { return publish(*o); };
}

}  // namespace reflexctl
