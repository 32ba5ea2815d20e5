#pragma once
// Between reflex::rstate's values and stategate's messages: JSON text and google.protobuf.Struct
// by protobuf's own JSON mapping, and the status each rstate error answers with.

#include <grpcpp/support/status.h>

#include <exception>
#include <string>
#include <string_view>

#include "reflex/rstate/entities.hpp"
#include "stategate/schema.pb.h"

namespace reflex::rstategate::detail {

/// The JSON text of `values` (proto3 JSON).
[[nodiscard]] std::string json_of(const google::protobuf::Struct& values);
/// `json` (a JSON object) into `out`; false when it is not one.
[[nodiscard]] bool struct_of(const std::string& json, google::protobuf::Struct* out);

[[nodiscard]] ::stategate::Entity to_proto(const rstate::Entity& entity);
[[nodiscard]] ::stategate::Event to_proto(const rstate::EntityEvent& event);

/// The status of a failed rstate call: NotFound NOT_FOUND, VersionConflict and SchemaError
/// FAILED_PRECONDITION, other ConfigErrors INVALID_ARGUMENT, a retryable error (the database
/// unreachable, a lost connection) UNAVAILABLE, the rest INTERNAL; "<context>: <what>".
[[nodiscard]] grpc::Status entity_status(const std::exception_ptr& error, std::string_view context);

}  // namespace reflex::rstategate::detail
