#pragma once
// How the stategate services answer: the status of a failure, the checks every call makes
// first (identity, then the fields), and the answers they share.

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <exception>
#include <string>
#include <string_view>

#include "reflex/rstategate/identity.hpp"

namespace reflex::rstategate::detail {

/// The status of a failed backend call: Unauthenticated UNAUTHENTICATED, ConfigError
/// INVALID_ARGUMENT, Unavailable UNAVAILABLE, the rest INTERNAL; each "<context>: <what>".
[[nodiscard]] grpc::Status to_status(const std::exception_ptr& error, std::string_view context);

[[nodiscard]] inline grpc::Status invalid(std::string message) {
  return {grpc::StatusCode::INVALID_ARGUMENT, std::move(message)};
}

[[nodiscard]] inline grpc::Status shutting_down() {
  return {grpc::StatusCode::UNAVAILABLE, "server shutting down"};
}

/// The claims of the call (a JSON object's text) in `claims`, or the UNAUTHENTICATED status
/// its `authorization` metadata earns.
[[nodiscard]] grpc::Status authorize(const grpc::ServerContextBase& context,
                                     const Identity& identity, std::string& claims);

}  // namespace reflex::rstategate::detail
