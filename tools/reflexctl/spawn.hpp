#pragma once
// Running backfill's COMMAND: one child process per batch, the batch on its stdin.

#include <string>
#include <string_view>
#include <vector>

namespace reflexctl {

/// Runs `command` (looked up on PATH, with reflexctl's environment) with `input` on its stdin and
/// waits for it. Returns its exit status, 128+N when signal N killed it. A command that exits
/// without reading all of its input is fine. Throws reflex::ConfigError when it cannot be started
/// (no such program).
[[nodiscard]] int run_command(const std::vector<std::string>& command, std::string_view input);

}  // namespace reflexctl
