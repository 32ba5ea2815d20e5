// stategate's REST routes (see stategate_routes.hpp). A service added to reflexd adds its rows
// here, and its REST tests call them; nothing else needs to change.

#include "stategate_routes.hpp"

#include "stategate/schema.pb.h"

namespace reflexd {

const std::vector<GatewayRoute>& stategate_routes() {
  // The generated file registers its descriptors when loaded: name one of its types, so that the
  // linker keeps reflex::proto and the gateway finds the methods by name.
  (void)stategate::Entity::descriptor();
  static const std::vector<GatewayRoute> routes{
      // EntityService
      {"POST", "/api/entity/ref/{domain}/{type}/{key}", "stategate.EntityService.Set"},
      {"PUT", "/api/entity/ref/{domain}/{type}/{key}", "stategate.EntityService.Set"},
      {"PATCH", "/api/entity/ref/{domain}/{type}/{key}", "stategate.EntityService.Edit"},
      {"PUT", "/api/entity/ref/{domain}/{type}/{key}/revert", "stategate.EntityService.Revert"},
      {"GET", "/api/entity/ref/{domain}/{type}/{key}", "stategate.EntityService.Get"},
      {"DELETE", "/api/entity/ref/{domain}/{type}/{key}", "stategate.EntityService.Del"},
      {"GET", "/api/entity/search", "stategate.EntityService.Search"},
      // EventService
      {"GET", "/api/events/stream", "stategate.EventService.Stream"},
      {"GET", "/api/event/stream", "stategate.EventService.Stream"},
      {"GET", "/api/events/search", "stategate.EventService.Search"},
      {"GET", "/api/event/search", "stategate.EventService.Search"},
      {"GET", "/api/events/ref/{domain}/{type}/{key}/{id}", "stategate.EventService.Get"},
      {"GET", "/api/event/ref/{domain}/{type}/{key}/{id}", "stategate.EventService.Get"},
      // PeerService
      {"POST", "/api/peers/broadcast", "stategate.PeerService.Broadcast"},
      {"POST", "/api/peer/broadcast", "stategate.PeerService.Broadcast"},
      {"GET", "/api/peers/stream", "stategate.PeerService.Stream"},
      {"GET", "/api/peer/stream", "stategate.PeerService.Stream"},
      // CacheService
      {"PUT", "/api/cache/ref/{domain}/{key}", "stategate.CacheService.Set"},
      {"GET", "/api/cache/ref/{domain}/{key}", "stategate.CacheService.Get"},
      {"DELETE", "/api/cache/ref/{domain}/{key}", "stategate.CacheService.Del"},
      // MutexService
      {"POST", "/api/mutex/ref/{domain}/{key}/lock", "stategate.MutexService.Lock"},
      {"POST", "/api/mutex/ref/{domain}/{key}/unlock", "stategate.MutexService.Unlock"},
      {"PUT", "/api/mutex/ref/{domain}/{key}", "stategate.MutexService.Lock"},
      {"DELETE", "/api/mutex/ref/{domain}/{key}", "stategate.MutexService.Unlock"},
  };
  return routes;
}

}  // namespace reflexd
