// reflexctl: the operator's tool for reflex streams, outboxes and cursors. This file dispatches:
// it builds the command line (CLI11) from the commands in commands/, runs the one given, and
// turns every failure into one line on stderr and an exit code (errors.hpp): 0 success, 1
// runtime error, 2 usage error; --help exits 0.

#include <CLI/CLI.hpp>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "commands/commands.hpp"
#include "errors.hpp"
#include "library_logs.hpp"
#include "outages.hpp"
#include "reflex/version.hpp"
#include "signals.hpp"

namespace {

constexpr const char* kFooter =
    R"(Run `reflexctl help COMMAND` (or `reflexctl COMMAND --help`) for a command's options.

sources:  postgresql://USER[:PW]@HOST:PORT/DB?table=T   mysql://USER[:PW]@HOST:PORT/DB?table=T
          sqlite:///ABS/PATH?table=T   grpc://HOST:PORT   grpcs://HOST:PORT
          nats://[USER:PW@]HOST:PORT?stream=S   (or tls://…, several servers comma-separated)
cursor stores: an SQL DSN with ?table=CURSORS_TABLE, or nats://HOST:PORT?bucket=B
exit codes: 0 success, 1 runtime error, 2 usage error)";

/// CLI11's formatter with positionals shown plainly ("SOURCE", not "[SOURCE]"): every command
/// checks its own positionals, with a message saying what each is for, so CLI11 does not know
/// they are needed.
class Formatter final : public CLI::Formatter {
 public:
  Formatter() {
    label("Usage", "usage");
    label("SUBCOMMAND", "COMMAND");
    label("Positionals", "Arguments");
    label("TEXT", "");  // a positional's type says nothing its name does not
    column_width(32);
  }
  std::string make_option_usage(const CLI::Option* opt) const override {
    std::string out = make_option_name(opt, true);
    if (opt->get_expected_max() >= CLI::detail::expected_max_vector_size) out += "...";
    return out;
  }
};

/// The help of `app`, its usage line naming the commands above it (`prefix`).
std::string help_of(const CLI::App& app, const std::string& prefix) {
  return app.get_formatter()->make_help(&app, prefix, CLI::AppFormatMode::Normal);
}

/// The command (or action) of `app` called `name`, or nullptr.
const CLI::App* find_command(const CLI::App& app, const std::string& name) {
  for (const CLI::App* command : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (command->check_name(name)) return command;
  }
  return nullptr;
}

/// What CLI11 left unparsed, said the way an operator reads it.
std::string describe_extras(const CLI::App& app, const CLI::ParseError& error) {
  std::string out;
  for (const auto& word : app.remaining(true)) {
    if (!out.empty()) out += "; ";
    out += word.starts_with("-") ? "unknown option " + word : "unexpected argument '" + word + "'";
  }
  return out.empty() ? error.what() : out;
}

/// `reflexctl help [COMMAND [ACTION]]`: the help of that command, or the general one.
int print_help(const CLI::App& app, const CLI::App* help, const std::vector<std::string>& topic) {
  const CLI::App* target = &app;
  std::string shown = "reflexctl";
  for (const auto& word : topic) {
    target = find_command(*target, word);
    if (target == nullptr || target == help) {
      reflexctl::print_error("help", "no command '" + word + "' (reflexctl --help lists them)");
      return 2;
    }
    shown += " " + target->get_name();
  }
  std::cout << help_of(*target, shown);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by one thread (SignalStop); block them before any thread starts.
  reflexctl::block_stop_signals();
  // Errors are ours to say, once, in one line: gRPC's and protobuf's own log lines ("E1201 …
  // Handshake failed") would come before it, in another format.
  reflexctl::quiet_library_logs();

  CLI::App app("reflexctl — tail, publish and inspect reflex event streams and cursors",
               "reflexctl");
  // Before any command is added: commands share the app's formatter.
  app.formatter(std::make_shared<Formatter>());
  app.footer(kFooter);
  app.set_version_flag("--version", std::string("reflexctl ") + reflex::version_string);
  app.require_subcommand(0, 1);

  // backfill's COMMAND is everything after the first "--"; CLI11 parses what comes before.
  std::vector<char*> args(argv, argv + argc);
  std::vector<std::string> trailing;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (std::string_view(args[i]) == "--") {
      trailing.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      args.resize(i);
      break;
    }
  }

  std::map<const CLI::App*, reflexctl::Run> runs;
  const auto add = [&](reflexctl::Run run) {
    CLI::App* command = app.get_subcommands([](CLI::App*) { return true; }).back();
    command->group("Commands");
    runs.emplace(command, std::move(run));
  };
  add(reflexctl::add_tail(app));
  add(reflexctl::add_backfill(app, trailing));
  add(reflexctl::add_relay(app));
  add(reflexctl::add_publish(app));
#if defined(REFLEXCTL_WITH_GRPC)
  add(reflexctl::add_serve(app));
#else
  app.add_subcommand("serve", "(not in this build: it was built without gRPC)");
  add([]() -> int {
    throw reflexctl::UsageError("this reflexctl was built without gRPC support");
  });
#endif
  add(reflexctl::add_cursors(app));
  add(reflexctl::add_streams(app));
  add(reflexctl::add_schema(app));
  std::vector<std::string> topic;
  auto* help = app.add_subcommand("help", "print the help of a command: reflexctl help tail");
  help->group("Commands");
  help->add_option("COMMAND", topic, "the command (and its action: help cursors set)");

  const std::string first = argc > 1 ? argv[1] : "";
  if (first.empty()) {
    std::cout << help_of(app, "reflexctl");
    return 2;
  }
  if (!first.starts_with("-") && find_command(app, first) == nullptr) {
    reflexctl::print_error("", "unknown command '" + first + "' (reflexctl --help lists them)");
    return 2;
  }
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion& e) {
    std::cout << e.what() << '\n';
    return 0;
  } catch (const CLI::ArgumentMismatch& e) {
    // CLI11 says "--batch: 1 required N missing".
    const std::string what = e.what();
    const auto colon = what.find(':');
    reflexctl::print_error(first, colon != std::string::npos && what.starts_with("-")
                                      ? what.substr(0, colon) + " needs a value"
                                      : what);
    return 2;
  } catch (const CLI::ExtrasError& e) {
    reflexctl::print_error(first, describe_extras(app, e));
    return 2;
  } catch (const CLI::ParseError& e) {
    reflexctl::print_error(first, e.what());
    return 2;
  }

  const auto chosen = app.get_subcommands();
  if (chosen.empty()) {  // only options, e.g. a stray "--"
    std::cout << help_of(app, "reflexctl");
    return 2;
  }
  if (chosen.front() == help) return print_help(app, help, topic);
  const std::string name = chosen.front()->get_name();
  try {
    if (!trailing.empty() && name != "backfill") {
      throw reflexctl::UsageError("takes nothing after \"--\"");
    }
    return runs.at(chosen.front())();
  } catch (const std::exception& e) {
    reflexctl::print_error(name, reflexctl::describe(std::current_exception()));
    return reflexctl::exit_code_of(e);
  }
}
