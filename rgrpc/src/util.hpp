#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace google::protobuf {
class Timestamp;
}  // namespace google::protobuf

namespace reflex::rgrpc::detail {

/// The whole file; throws ConfigError naming `what` and the path when it cannot be read.
[[nodiscard]] std::string read_file(const std::string& path, const char* what);

/// A protobuf Timestamp as a time point; throws Error naming `event_id` when it is outside the
/// range of system_clock.
[[nodiscard]] std::chrono::system_clock::time_point to_time_point(
    const google::protobuf::Timestamp& timestamp, std::string_view event_id);

}  // namespace reflex::rgrpc::detail
