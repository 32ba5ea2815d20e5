#pragma once
// The commands of reflexctl, one file each. A command adds itself to the CLI11 app (its options,
// help and footer) and returns what to run once the command line is parsed; main.cpp dispatches.
// Also here: parsers of option values that several commands share.

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "durations.hpp"

namespace reflexctl {

// The pieces reflexctl shares with reflexd (tools/common: sources, errors, outages, serving) are
// reflexctl's own vocabulary: every command names them unqualified.
using namespace reflex_tools;

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
Run add_streams(CLI::App& app);

/// Checks that an option's value is a whole number from `min` to `max` ("--batch: needs a whole
/// number from 1 to 9223372036854775807, got 'x'"), so that the option's variable (of a type
/// that holds `max`) gets it without overflow.
[[nodiscard]] CLI::Validator integer_in(std::int64_t min, std::int64_t max);
/// integer_in(1, max).
[[nodiscard]] CLI::Validator positive_integer(
    std::int64_t max = std::numeric_limits<std::int64_t>::max());

/// `raw` without its first character when that is a newline: a help text written as R"(
/// starts on the line after the R"(, and CLI11 puts its own blank line before a footer.
[[nodiscard]] std::string text(std::string_view raw);

/// Throws UsageError("COMMAND needs WHAT") when `value` is empty: positionals are checked here
/// rather than by CLI11 so the message says what the argument is for.
void require(const std::string& value, const std::string& message);

}  // namespace reflexctl
