// The windshift services on reflex::rwindshift (see windshift_services.hpp). Compiled only when
// that module is built; windshift_services_absent.cpp stands in otherwise.

#include "windshift_services.hpp"

#include "reflex/rwindshift/events_service.hpp"
#include "reflex/rwindshift/state_service.hpp"

namespace reflexd {
namespace {

class Hosted final : public WindshiftServices {
 public:
  Hosted(reflex::rnats::Connection nats, const WindshiftOptions& options)
      : events_(nats, {.publish_async_max_pending = options.publish_async_max_pending}),
        state_(std::move(nats)) {}

  std::vector<grpc::Service*> services() override { return {events_.service(), state_.service()}; }
  std::vector<std::string> names() const override {
    return {std::string(reflex::rwindshift::EventsService::name),
            std::string(reflex::rwindshift::StateService::name)};
  }
  void shutdown() override {
    events_.shutdown();
    state_.shutdown();
  }

 private:
  reflex::rwindshift::EventsService events_;
  reflex::rwindshift::StateService state_;
};

}  // namespace

std::unique_ptr<WindshiftServices> make_windshift_services(reflex::rnats::Connection nats,
                                                           const WindshiftOptions& options) {
  return std::make_unique<Hosted>(std::move(nats), options);
}

}  // namespace reflexd
