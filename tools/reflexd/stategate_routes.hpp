#pragma once
// stategate's REST routes: the one table of which HTTP method and path call which stategate
// gRPC method (served by gateway_routes on reflexd's HTTP port).

#include <vector>

#include "gateway.hpp"

namespace reflexd {

/// Every route, in both spellings stategate has: its schema.proto's google.api.http options
/// (`/api/event/...`, `/api/peer/...`, PUT to set an entity, PUT `/api/mutex/ref/{domain}/{key}`)
/// and its README's (`/api/events/...`, `/api/peers/...`, POST to set, POST `.../lock` and
/// `.../unlock`). The schema gives Lock and Unlock the same PUT path: PUT there locks, and
/// DELETE of that path unlocks.
[[nodiscard]] const std::vector<GatewayRoute>& stategate_routes();

}  // namespace reflexd
