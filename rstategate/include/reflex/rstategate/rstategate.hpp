#pragma once

// reflex::rstategate: stategate's services for any gRPC server: PeerService, CacheService and
// MutexService on pluggable backends (NATS, in-process), every call checked by an Identity.

#include "reflex/rstategate/backends.hpp"
#include "reflex/rstategate/cache_service.hpp"
#include "reflex/rstategate/entity_service.hpp"
#include "reflex/rstategate/identity.hpp"
#include "reflex/rstategate/mutex_service.hpp"
#include "reflex/rstategate/nats.hpp"
#include "reflex/rstategate/peer_service.hpp"
#include "reflex/rstategate/sql.hpp"
