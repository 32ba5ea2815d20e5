// The libraries' own logging (see library_logs.hpp).

#include "library_logs.hpp"

#include <cstdlib>

#if defined(REFLEX_TOOLS_WITH_GRPC)
#include <google/protobuf/stubs/logging.h>
#include <grpc/support/log.h>
#endif

namespace reflex_tools {
namespace {

#if defined(REFLEX_TOOLS_WITH_GRPC)
void drop_grpc_line(gpr_log_func_args*) {}
#endif

}  // namespace

void quiet_library_logs() {
#if defined(REFLEX_TOOLS_WITH_GRPC)
  // A log function, not GRPC_VERBOSITY=NONE in our environment: backfill's COMMAND inherits the
  // environment and must get the operator's, not ours.
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function(drop_grpc_line);
  google::protobuf::SetLogHandler(nullptr);
#endif
}

}  // namespace reflex_tools
