#include "reflex/rstategate/entity_service.hpp"

#include <atomic>
#include <charconv>

#include "entities_proto.hpp"
#include "reflex/uuid.hpp"
#include "stategate/schema.grpc.pb.h"
#include "status.hpp"
#include "validation.hpp"

namespace reflex::rstategate {
namespace detail {

namespace pb = ::stategate;

namespace {

/// The optional `x-expected-version` metadata of a call: "" when fine (sets `version` when
/// given), else the INVALID_ARGUMENT message.
std::string expected_version(const grpc::ServerContext& ctx, std::optional<std::int64_t>& version) {
  const auto& metadata = ctx.client_metadata();
  const auto it = metadata.find("x-expected-version");
  if (it == metadata.end()) return {};
  const std::string_view text(it->second.data(), it->second.size());
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return "x-expected-version: must be a version number (0: the entity must not exist), got '" +
           std::string(text) + "'";
  }
  version = value;
  return {};
}

/// The first message that is not "" (the first failed check), or "".
std::string first_of(std::initializer_list<std::string> messages) {
  for (const auto& message : messages) {
    if (!message.empty()) return message;
  }
  return {};
}

}  // namespace

class EntityServiceImpl final : public pb::EntityService::Service {
 public:
  EntityServiceImpl(rstate::Entities entities, Identity identity)
      : entities_(std::move(entities)), identity_(std::move(identity)) {}

  void shutdown() { stopping_ = true; }

  grpc::Status Set(grpc::ServerContext* ctx, const pb::Entity* req,
                   google::protobuf::Empty*) override {
    rstate::Change change;
    if (auto status = admit(*ctx, change, "/stategate.EntityService/Set"); !status.ok()) {
      return status;
    }
    if (auto message = check_entity(*req); !message.empty()) return invalid(message);
    try {
      (void)entities_.set(ref_of(*req), json_of(req->values()), change);
      return grpc::Status::OK;
    } catch (...) {
      return entity_status(std::current_exception(), "set " + text_of(*req));
    }
  }

  grpc::Status Edit(grpc::ServerContext* ctx, const pb::Entity* req, pb::Entity* res) override {
    rstate::Change change;
    if (auto status = admit(*ctx, change, "/stategate.EntityService/Edit"); !status.ok()) {
      return status;
    }
    if (auto message = check_entity(*req); !message.empty()) return invalid(message);
    try {
      *res = to_proto(entities_.edit(ref_of(*req), json_of(req->values()), change));
      return grpc::Status::OK;
    } catch (...) {
      return entity_status(std::current_exception(), "edit " + text_of(*req));
    }
  }

  grpc::Status Revert(grpc::ServerContext* ctx, const pb::EventRef* req, pb::Entity* res) override {
    rstate::Change change;
    if (auto status = admit(*ctx, change, "/stategate.EntityService/Revert"); !status.ok()) {
      return status;
    }
    if (auto message = check_event_ref(*req); !message.empty()) return invalid(message);
    try {
      *res = to_proto(entities_.revert(ref_of(*req), req->id(), change));
      return grpc::Status::OK;
    } catch (...) {
      return entity_status(std::current_exception(), "revert " + text_of(*req));
    }
  }

  grpc::Status Get(grpc::ServerContext* ctx, const pb::EntityRef* req, pb::Entity* res) override {
    rstate::Change change;
    if (auto status = admit(*ctx, change, {}); !status.ok()) return status;
    if (auto message = check_ref(*req); !message.empty()) return invalid(message);
    try {
      const auto entity = entities_.get(ref_of(*req));
      if (!entity) return {grpc::StatusCode::NOT_FOUND, "no entity " + text_of(*req)};
      *res = to_proto(*entity);
      return grpc::Status::OK;
    } catch (...) {
      return entity_status(std::current_exception(), "get " + text_of(*req));
    }
  }

  grpc::Status Del(grpc::ServerContext* ctx, const pb::EntityRef* req,
                   google::protobuf::Empty*) override {
    rstate::Change change;
    if (auto status = admit(*ctx, change, "/stategate.EntityService/Del"); !status.ok()) {
      return status;
    }
    if (auto message = check_ref(*req); !message.empty()) return invalid(message);
    try {
      (void)entities_.del(ref_of(*req), change);
      return grpc::Status::OK;
    } catch (...) {
      return entity_status(std::current_exception(), "del " + text_of(*req));
    }
  }

  grpc::Status Search(grpc::ServerContext* ctx, const pb::SearchEntityOpts* req,
                      pb::Entities* res) override {
    rstate::Change change;
    if (auto status = admit(*ctx, change, {}); !status.ok()) return status;
    if (auto message =
            first_of({check_name("domain", req->domain()), check_name("type", req->type()),
                      req->limit() > 0 ? std::string() : "limit: must be greater than 0"});
        !message.empty()) {
      return invalid(message);
    }
    try {
      const auto found = entities_.search(
          {.domain = req->domain(),
           .type = req->type(),
           .filter = req->query_string(),
           .sort = {.field = req->sort().field(), .reverse = req->sort().reverse()},
           .limit = req->limit(),
           .offset = req->offset()});
      for (const auto& entity : found) *res->add_entities() = to_proto(entity);
      return grpc::Status::OK;
    } catch (...) {
      return entity_status(std::current_exception(), "search " + req->domain() + "/" + req->type());
    }
  }

 private:
  /// Refuses a stopping server and an unauthenticated call; fills the change's claims, method
  /// and expected version.
  grpc::Status admit(const grpc::ServerContext& ctx, rstate::Change& change,
                     std::string_view method) {
    if (stopping_) return shutting_down();
    if (auto status = authorize(ctx, identity_, change.claims); !status.ok()) return status;
    change.method_name = std::string(method);
    if (auto message = expected_version(ctx, change.expected_version); !message.empty()) {
      return invalid(message);
    }
    return grpc::Status::OK;
  }

  template <class Ref>
  static std::string check_ref(const Ref& ref) {
    return first_of({check_name("domain", ref.domain()), check_name("type", ref.type()),
                     check_name("key", ref.key())});
  }
  static std::string check_entity(const pb::Entity& entity) {
    return first_of({check_ref(entity), check_present("values", entity.has_values())});
  }
  static std::string check_event_ref(const pb::EventRef& ref) {
    return first_of({check_ref(ref), is_uuid_v4(ref.id()) ? std::string()
                                                          : "id: must be a version 4 UUID (got '" +
                                                                ref.id() + "')"});
  }
  template <class Ref>
  static rstate::EntityRef ref_of(const Ref& ref) {
    return {ref.domain(), ref.type(), ref.key()};
  }
  template <class Ref>
  static std::string text_of(const Ref& ref) {
    return ref.domain() + "/" + ref.type() + "/" + ref.key();
  }

  rstate::Entities entities_;
  const Identity identity_;
  std::atomic<bool> stopping_{false};
};

}  // namespace detail

EntityService::EntityService(rstate::Entities entities, Identity identity)
    : impl_(std::make_unique<detail::EntityServiceImpl>(std::move(entities), std::move(identity))) {
}

EntityService::~EntityService() = default;

grpc::Service* EntityService::service() noexcept {
  return impl_.get();
}

void EntityService::shutdown() {
  impl_->shutdown();
}

}  // namespace reflex::rstategate
