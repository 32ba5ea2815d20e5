#include "ids.hpp"

#include <chrono>

namespace reflex::rstategate::detail {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace reflex::rstategate::detail
