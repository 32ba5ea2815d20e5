#pragma once
// The commands of reflexctl, one file each. A command adds itself to the CLI11 app (its options,
// help and footer) and returns what to run once the command line is parsed; main.cpp dispatches.
// Also here: parsers of option values that several commands share.

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace reflexctl {

/// Runs a parsed command; returns its exit code. Throws on failure (see errors.hpp).
using Run = std::function<int()>;

Run add_tail(CLI::App& app);
Run add_publish(CLI::App& app);
/// `command`: the words after "--" on the command line, filled in before the Run is called.
Run add_backfill(CLI::App& app, const std::vector<std::string>& command);
Run add_relay(CLI::App& app);
Run add_cursors(CLI::App& app);
Run add_schema(CLI::App& app);
Run add_serve(CLI::App& app);

/// Checks that an option's value is a positive integer ("--batch: needs a positive integer, got
/// 'x'"); the option's variable then holds it.
[[nodiscard]] const CLI::Validator& positive_integer();

/// "500ms", "2s", "5m", "1h"; UsageError naming `flag` otherwise.
[[nodiscard]] std::chrono::milliseconds parse_duration(const std::string& flag,
                                                       const std::string& text);

/// `raw` without its first character when that is a newline: a help text written as R"(
/// starts on the line after the R"(, and CLI11 puts its own blank line before a footer.
[[nodiscard]] std::string text(std::string_view raw);

/// Throws UsageError("COMMAND needs WHAT") when `value` is empty: positionals are checked here
/// rather than by CLI11 so the message says what the argument is for.
void require(const std::string& value, const std::string& message);

}  // namespace reflexctl
