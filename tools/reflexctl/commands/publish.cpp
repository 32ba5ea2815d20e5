// reflexctl publish: inserts events read as JSON lines from stdin into an SQL outbox.

#include <iostream>
#include <memory>
#include <span>
#include <stdexcept>
#include <utility>

#include "commands/commands.hpp"
#include "errors.hpp"
#include "json.hpp"
#include "reflex/errors.hpp"
#include "sources.hpp"

namespace reflexctl {
namespace {

/// Whether `error` refuses one event (its metadata too large, a value the column cannot hold)
/// rather than the whole table (missing, unreachable): the former names an input line.
bool refuses_an_event(const std::exception& error) {
  if (dynamic_cast<const reflex::rsql::SchemaError*>(&error) != nullptr) return false;
  if (dynamic_cast<const reflex::ConfigError*>(&error) != nullptr) return true;
  const auto* database = dynamic_cast<const reflex::rsql::DatabaseError*>(&error);
  return database != nullptr && database->kind() == reflex::rsql::DatabaseErrorKind::data;
}

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
  const auto table = open_events_table(o.source, Access::write);
  std::vector<reflex::rsql::NewEvent> pending;
  std::vector<std::size_t> pending_lines;  // the input line of each pending event
  std::string line;
  std::size_t number = 0;
  std::size_t written = 0;
  const auto bad_line = [&](std::size_t at, const std::string& why) {
    print_error("publish", "line " + std::to_string(at) + ": " + why + " (" +
                               std::to_string(written) + " events written before it)");
    return 1;
  };
  // Writes the pending events; returns the line the table refused (0: none) and why.
  const auto flush = [&]() -> std::pair<std::size_t, std::string> {
    if (pending.empty()) return {0, {}};
    try {
      table.publish(pending);
      written += pending.size();
    } catch (const std::exception& e) {
      if (!refuses_an_event(e)) throw;
      // A batch is all or nothing: write its events one by one, up to the one refused.
      for (std::size_t i = 0; i < pending.size(); ++i) {
        try {
          table.publish(std::span(&pending[i], 1));
          ++written;
        } catch (const std::exception& one) {
          if (!refuses_an_event(one)) throw;
          return {pending_lines[i], one.what()};
        }
      }
    }
    pending.clear();
    pending_lines.clear();
    return {0, {}};
  };
  while (std::getline(std::cin, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      pending.push_back(event_from_json(line));
      pending_lines.push_back(number);
    } catch (const std::invalid_argument& e) {
      // The lines before the bad one are written, nothing after it.
      if (const auto [at, why] = flush(); at != 0) return bad_line(at, why);
      return bad_line(number, e.what());
    }
    if (pending.size() >= o.batch) {
      if (const auto [at, why] = flush(); at != 0) return bad_line(at, why);
    }
  }
  if (const auto [at, why] = flush(); at != 0) return bad_line(at, why);
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
error, and so is an event the table refuses (metadata over its limit). N lines are inserted
per transaction, waking followers after each commit. A bad line stops the run (exit 1) naming
its line number; the lines before it are written, nothing after it.)"));
  return [o] { return publish(*o); };
}

}  // namespace reflexctl
