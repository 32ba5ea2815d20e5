#include "status.hpp"

#include "reflex/errors.hpp"

namespace reflex::rstategate::detail {

grpc::Status to_status(const std::exception_ptr& error, std::string_view context) {
  const auto with = [&](grpc::StatusCode code, const std::exception& e) {
    return grpc::Status(
        code, context.empty() ? std::string(e.what()) : std::string(context) + ": " + e.what());
  };
  try {
    std::rethrow_exception(error);
  } catch (const Unauthenticated& e) {
    return with(grpc::StatusCode::UNAUTHENTICATED, e);
  } catch (const ConfigError& e) {
    return with(grpc::StatusCode::INVALID_ARGUMENT, e);
  } catch (const Unavailable& e) {
    return with(grpc::StatusCode::UNAVAILABLE, e);
  } catch (const std::exception& e) {
    return with(grpc::StatusCode::INTERNAL, e);
  } catch (...) {
    return {grpc::StatusCode::INTERNAL, std::string(context) + ": unknown error"};
  }
}

grpc::Status authorize(const grpc::ServerContextBase& context, const Identity& identity,
                       std::string& claims) {
  std::string_view authorization;
  const auto& metadata = context.client_metadata();
  if (const auto it = metadata.find("authorization"); it != metadata.end()) {
    authorization = std::string_view(it->second.data(), it->second.size());
  }
  try {
    claims = identity.verify(authorization);
    return grpc::Status::OK;
  } catch (const Unauthenticated& e) {
    return {grpc::StatusCode::UNAUTHENTICATED, e.what()};
  } catch (...) {
    return to_status(std::current_exception(), "verify credentials");
  }
}

}  // namespace reflex::rstategate::detail
