#include "reflex/stream.hpp"

#include <string>

#include "reflex/errors.hpp"

namespace reflex {

void check_stream_options(const StreamOptions& options) {
  if (options.lag < std::chrono::milliseconds::zero() || options.lag > kMaxLag) {
    throw ConfigError("StreamOptions.lag of " + std::to_string(options.lag.count()) +
                      " ms is out of range: it must be from 0 to 100 years");
  }
}

}  // namespace reflex
