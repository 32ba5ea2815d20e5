#pragma once

#include <nats/nats.h>

#include <memory>
#include <string>

#include "handles.hpp"
#include "reflex/rnats/connection.hpp"

namespace reflex::rnats::detail {

/// What a Connection shares with everything made from it. Objects that use the connection keep a
/// shared_ptr to this, so the connection outlives them.
struct ConnectionState {
  ConnectOptions options{};
  std::string redacted_url{};
  ConnectionPtr nc{};
  /// For synchronous JetStream calls (API requests, sync publishes). Thread-safe in nats.c;
  /// components with their own async-publish handlers create their own context.
  JsCtxPtr js{};

  /// jsOptions with this connection's request timeout.
  [[nodiscard]] jsOptions js_options() const;
  /// A new JetStream context on this connection (for async publishing with a handler).
  [[nodiscard]] JsCtxPtr new_js(jsOptions& options) const;

  ~ConnectionState() {
    // The context holds a reference to the connection: release it first.
    js.reset();
    nc.reset();
  }
};

}  // namespace reflex::rnats::detail
