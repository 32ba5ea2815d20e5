#pragma once

#include <functional>
#include <string_view>

#include "reflex/rpatterns/export.hpp"

namespace reflex::rpatterns {

/// Receives one line of text about something a pattern did on its own (a failed run it will
/// retry, an event it skipped). Core has no logger: plug in yours here.
///
/// Thread-safety: patterns may call it from several threads at once.
using LogFunc = std::function<void(std::string_view line)>;

/// Writes each line to stderr (one write per line, so lines of threads do not interleave). This
/// is what patterns use when their LogFunc option is left empty.
[[nodiscard]] REFLEX_RPATTERNS_EXPORT LogFunc stderr_log();

}  // namespace reflex::rpatterns
