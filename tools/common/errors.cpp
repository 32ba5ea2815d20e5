// Exit codes and one-line error messages (see errors.hpp).

#include "errors.hpp"

#include <cstdio>

namespace reflex_tools {

int exit_code_of(const std::exception& error) noexcept {
  if (dynamic_cast<const UsageError*>(&error) || dynamic_cast<const reflex::ConfigError*>(&error) ||
      dynamic_cast<const reflex::CursorError*>(&error)) {
    return 2;
  }
  // A job's cursor store failed (also inside the ConsumeError of a batch): its own error says.
  if (const auto* store = reflex::find_error<CursorStoreFailure>(error)) {
    return reflex::find_error<reflex::ConfigError>(*store) != nullptr ? 2 : 1;
  }
  return 1;
}

std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r') {
      out += text[i++];
      continue;
    }
    // A run of white space: kept as it is unless it breaks the line.
    const std::size_t start = i;
    bool breaks = false;
    while (i < text.size() &&
           (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) {
      breaks = breaks || text[i] != ' ';
      ++i;
    }
    if (out.empty() || i == text.size()) continue;  // trim both ends
    if (breaks) {
      out += ' ';
    } else {
      out.append(text.substr(start, i - start));
    }
  }
  return out;
}

namespace {
std::string& program() {
  static std::string name = "reflexctl";
  return name;
}
}  // namespace

const std::string& program_name() noexcept {
  return program();
}

void set_program_name(std::string name) {
  program() = std::move(name);
}

void print_error(std::string_view command, std::string_view message) {
  std::string line = program_name();
  if (!command.empty()) line.append(" ").append(command);
  line += ": " + one_line(message) + "\n";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace reflex_tools
