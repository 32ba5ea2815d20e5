#pragma once

#include <string>

namespace reflex::rgrpc::detail {

/// The whole file; throws ConfigError naming `what` and the path when it cannot be read.
[[nodiscard]] std::string read_file(const std::string& path, const char* what);

}  // namespace reflex::rgrpc::detail
