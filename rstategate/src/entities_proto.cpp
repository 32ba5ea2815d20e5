#include "entities_proto.hpp"

#include <google/protobuf/util/json_util.h>

#include "reflex/errors.hpp"
#include "reflex/rsql/errors.hpp"
#include "reflex/rstate/errors.hpp"
#include "status.hpp"

namespace reflex::rstategate::detail {

std::string json_of(const google::protobuf::Struct& values) {
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(values, &out).ok()) return "{}";
  return out;
}

bool struct_of(const std::string& json, google::protobuf::Struct* out) {
  return google::protobuf::util::JsonStringToMessage(json, out).ok();
}

::stategate::Entity to_proto(const rstate::Entity& entity) {
  ::stategate::Entity out;
  out.set_domain(entity.ref.domain);
  out.set_type(entity.ref.type);
  out.set_key(entity.ref.key);
  (void)struct_of(entity.values, out.mutable_values());
  return out;
}

::stategate::Event to_proto(const rstate::EntityEvent& event) {
  ::stategate::Event out;
  out.set_id(event.id);
  *out.mutable_entity() = to_proto(event.entity);
  out.set_method(event.method_name);
  (void)struct_of(event.claims, out.mutable_claims());
  out.set_time(event.time_ns);
  return out;
}

grpc::Status entity_status(const std::exception_ptr& error, std::string_view context) {
  const auto with = [&](grpc::StatusCode code, const std::exception& e) {
    return grpc::Status(code, std::string(context) + ": " + e.what());
  };
  try {
    std::rethrow_exception(error);
  } catch (const rstate::NotFound& e) {
    return with(grpc::StatusCode::NOT_FOUND, e);
  } catch (const rstate::VersionConflict& e) {
    return with(grpc::StatusCode::FAILED_PRECONDITION, e);
  } catch (const rsql::SchemaError& e) {
    return with(grpc::StatusCode::FAILED_PRECONDITION, e);
  } catch (const Error& e) {
    if (e.retryable()) return with(grpc::StatusCode::UNAVAILABLE, e);
    return to_status(std::current_exception(), context);
  } catch (...) {
    return to_status(std::current_exception(), context);
  }
}

}  // namespace reflex::rstategate::detail
