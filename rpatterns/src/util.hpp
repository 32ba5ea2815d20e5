#pragma once

#include <exception>
#include <string>

#include "reflex/rpatterns/log.hpp"

namespace reflex::rpatterns::detail {

/// what() of the exception held by `error`, or a placeholder for non-standard ones.
std::string describe(const std::exception_ptr& error);

/// `log` unless it is empty, else stderr_log().
LogFunc or_stderr(LogFunc log);

/// Calls `log` and swallows what it throws: logging must not change what a pattern does.
void log_line(const LogFunc& log, const std::string& line) noexcept;

}  // namespace reflex::rpatterns::detail
