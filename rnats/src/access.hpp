#pragma once

// The module's own way into its public classes (libpqxx's "callgate"): a public class declares
// `friend struct detail::Access;` and keeps its internals private, so users see only the API
// while rnats' sources reach what they share. Not installed; only rnats/src includes it.

#include <memory>
#include <utility>

#include "reflex/rnats/connection.hpp"
#include "reflex/rnats/kv.hpp"
#include "reflex/rnats/streams.hpp"

namespace reflex::rnats::detail {

struct Access final {
  /// What everything made from `connection` shares (and keeps alive by holding it).
  [[nodiscard]] static const std::shared_ptr<ConnectionState>& state(
      const Connection& connection) noexcept {
    return connection.state_;
  }
  /// A handle to the connection `state` belongs to.
  [[nodiscard]] static Connection connection(std::shared_ptr<ConnectionState> state) {
    return Connection(std::move(state));
  }
  /// A Watch running on `state` (StateStore::watch).
  [[nodiscard]] static Watch watch(std::shared_ptr<WatchState> state) {
    return Watch(std::move(state));
  }
  /// A Delivery of `state` (Subscription::next).
  [[nodiscard]] static Delivery delivery(std::shared_ptr<DeliveryState> state) {
    return Delivery(std::move(state));
  }
};

}  // namespace reflex::rnats::detail
