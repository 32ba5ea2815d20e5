#include "util.hpp"

namespace reflex::rpatterns::detail {

std::string describe(const std::exception_ptr& error) {
  if (!error) return "no error";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
  }
  return "non-standard exception";
}

LogFunc or_stderr(LogFunc log) {
  return log ? std::move(log) : stderr_log();
}

void log_line(const LogFunc& log, const std::string& line) noexcept {
  try {
    if (log) log(line);
  } catch (...) {
  }
}

}  // namespace reflex::rpatterns::detail
