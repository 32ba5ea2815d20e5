#pragma once

#include <grpcpp/support/status.h>

#include <exception>
#include <string>

namespace reflex::rwindshift::detail {

/// The status a failed rnats call answers with: NotFound and NoStreamForSubject NOT_FOUND,
/// RevisionConflict FAILED_PRECONDITION, other ConfigErrors INVALID_ARGUMENT, Unavailable
/// UNAVAILABLE, the rest INTERNAL; each with `context` and the error's text.
[[nodiscard]] grpc::Status to_status(const std::exception_ptr& error, const std::string& context);

[[nodiscard]] inline grpc::Status invalid(std::string message) {
  return {grpc::StatusCode::INVALID_ARGUMENT, std::move(message)};
}

[[nodiscard]] inline grpc::Status shutting_down() {
  return {grpc::StatusCode::UNAVAILABLE, "server shutting down"};
}

}  // namespace reflex::rwindshift::detail
