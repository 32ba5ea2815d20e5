// The public API keeps the module's internals out of reach (they go through rnats/src/access.hpp)
// and its classes are not meant as bases.
#include <gtest/gtest.h>

#include <memory>
#include <type_traits>

#include "reflex/rnats/rnats.hpp"

namespace {

namespace rnats = reflex::rnats;

template <class T>
concept ExposesState = requires(const T& t) {
  t.state();
};

static_assert(!ExposesState<rnats::Connection>);
static_assert(!ExposesState<rnats::StateStore>);
static_assert(!std::is_constructible_v<rnats::Watch, std::shared_ptr<rnats::detail::WatchState>>);
static_assert(
    !std::is_constructible_v<rnats::Delivery, std::shared_ptr<rnats::detail::DeliveryState>>);

static_assert(
    !std::is_constructible_v<rnats::Connection, std::shared_ptr<rnats::detail::ConnectionState>>);

static_assert(std::is_final_v<rnats::Connection>);
static_assert(std::is_final_v<rnats::StateStore>);
static_assert(std::is_final_v<rnats::Watch>);
static_assert(std::is_final_v<rnats::KvCursorStore>);
static_assert(std::is_final_v<rnats::Relay>);
static_assert(std::is_final_v<rnats::Delivery>);
static_assert(std::is_final_v<rnats::Subscription>);
static_assert(std::is_final_v<rnats::JetStreamError>);

TEST(PublicApi, KeepsInternalsPrivateAndClassesFinal) {
  SUCCEED() << "checked at compile time";
}

}  // namespace
