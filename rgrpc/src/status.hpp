#pragma once

#include <grpcpp/support/status.h>

#include <exception>
#include <string>
#include <string_view>

namespace reflex::rgrpc::detail {

/// The status of a stream ended because its server is stopping (clients: reflex::Stopped).
[[nodiscard]] grpc::Status stopped_status();

/// The status that tells a client why its stream ended with the source's exception `error`.
[[nodiscard]] grpc::Status status_for(const std::exception_ptr& error);

/// The reflex error a client raises for a call's end status. `what` names the stream for the
/// message ("stream /reflexpb.Reflex/Stream from ipv4:127.0.0.1:9090").
[[nodiscard]] std::exception_ptr error_for(const grpc::Status& status, const std::string& what);

/// Compares in time that depends only on the lengths, not on where the inputs differ.
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace reflex::rgrpc::detail
