#include "status.hpp"

#include "reflex/errors.hpp"
#include "reflex/rnats/errors.hpp"

namespace reflex::rwindshift::detail {

grpc::Status to_status(const std::exception_ptr& error, const std::string& context) {
  const auto with = [&](grpc::StatusCode code, const std::exception& e) {
    return grpc::Status(code, context.empty() ? e.what() : context + ": " + e.what());
  };
  try {
    std::rethrow_exception(error);
  } catch (const rnats::NotFound& e) {
    return with(grpc::StatusCode::NOT_FOUND, e);
  } catch (const rnats::NoStreamForSubject& e) {
    return with(grpc::StatusCode::NOT_FOUND, e);
  } catch (const rnats::RevisionConflict& e) {
    return with(grpc::StatusCode::FAILED_PRECONDITION, e);
  } catch (const rnats::JetStreamError& e) {
    // JetStream's own refusals (10059 stream not found, 10014 consumer not found; the rest are
    // configurations it does not accept) are the caller's to fix.
    if (e.code() == 10059 || e.code() == 10014) return with(grpc::StatusCode::NOT_FOUND, e);
    if (e.code() != 0) return with(grpc::StatusCode::INVALID_ARGUMENT, e);
    return with(grpc::StatusCode::INTERNAL, e);
  } catch (const ConfigError& e) {
    return with(grpc::StatusCode::INVALID_ARGUMENT, e);
  } catch (const Unavailable& e) {
    return with(grpc::StatusCode::UNAVAILABLE, e);
  } catch (const std::exception& e) {
    return with(grpc::StatusCode::INTERNAL, e);
  } catch (...) {
    return {grpc::StatusCode::INTERNAL, context + ": unknown error"};
  }
}

}  // namespace reflex::rwindshift::detail
