#include "reflex/rpatterns/log.hpp"

#include <cstdio>
#include <string>

namespace reflex::rpatterns {

LogFunc stderr_log() {
  return [](std::string_view line) {
    std::string out;
    out.reserve(line.size() + 1);
    out.append(line);
    out.push_back('\n');
    // One fwrite per line: stdio locks the stream per call, so lines of threads stay whole.
    std::fwrite(out.data(), 1, out.size(), stderr);
  };
}

}  // namespace reflex::rpatterns
