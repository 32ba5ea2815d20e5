#pragma once

#include "reflex/rpatterns/export.hpp"
#include "reflex/run.hpp"

namespace reflex::rpatterns {

/// `stream` made to start from the head when the cursor is "" (a consumer that never consumed),
/// so a new consumer skips history; with a cursor it resumes as usual. Stateless, so one wrapped
/// stream serves any number of consumers and runs.
///
/// Until the new consumer has consumed its first event it has no cursor, so a restart in that
/// window starts from the head again and skips events appended meanwhile.
[[nodiscard]] REFLEX_RPATTERNS_EXPORT StreamFunc bootstrap(StreamFunc stream);

/// `spec` with its stream wrapped by bootstrap().
[[nodiscard]] REFLEX_RPATTERNS_EXPORT Spec bootstrap(Spec spec);

}  // namespace reflex::rpatterns
