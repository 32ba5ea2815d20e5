#pragma once
// How the tools (reflexctl, reflexd) report a failure: the exit code a failure maps to and the
// single line it prints.
//
// Exit codes: 0 success, 1 runtime error (a server down, a failed write), 2 usage error (bad
// arguments, malformed URI, unknown scheme, missing table, invalid name, a cursor that is no id).

#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

#include "reflex/errors.hpp"

namespace reflex_tools {

/// A command line that cannot work as given; exit 2, like reflex::ConfigError.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A cursor store failed to read or write a cursor, told as the store's failure ("cursor store
/// nats://…?bucket=B: …") rather than as the consumer's whose cursor it was. It is thrown with
/// std::throw_with_nested: the store's own exception is its cause (reflex::find_error sees it),
/// and retryable() is that exception's.
class CursorStoreFailure : public reflex::Error {
 public:
  /// `store` shows the store ("nats://…?bucket=B"), `cause` is the store's own message.
  CursorStoreFailure(const std::string& store, const std::string& cause, bool retryable)
      : reflex::Error("cursor store " + store + ": " + cause, retryable), cause_(cause) {}
  /// The store's own message, without the store's name.
  [[nodiscard]] const std::string& cause() const noexcept { return cause_; }

 private:
  std::string cause_;
};

/// 2 when the operator must change the command (UsageError, reflex::ConfigError, and
/// reflex::CursorError: a cursor given on the command line that is no event id; a cursor store
/// failing with a ConfigError, e.g. its table is missing), else 1.
[[nodiscard]] int exit_code_of(const std::exception& error) noexcept;

/// `text` as one line: every run of white space holding a line break or a tab becomes one space
/// and the ends are trimmed. Library messages may carry libpq's "…refused\n\tIs the server
/// running…" or a SQL error's "LINE 1: … ^"; an operator's log wants one line per failure.
[[nodiscard]] std::string one_line(std::string_view text);

/// The program named at the start of every line print_error() and OutageLog write: "reflexctl"
/// unless set_program_name() said otherwise (first thing in main(), before any thread exists).
[[nodiscard]] const std::string& program_name() noexcept;
void set_program_name(std::string name);

/// Prints "PROGRAM COMMAND: MESSAGE" as one line on stderr ("PROGRAM: MESSAGE" without a
/// command).
void print_error(std::string_view command, std::string_view message);

}  // namespace reflex_tools
