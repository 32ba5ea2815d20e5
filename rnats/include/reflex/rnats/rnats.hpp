#pragma once

// reflex::rnats: NATS JetStream as a reflex source, an exactly-once relay from the outbox into
// JetStream, KV cursor and state stores, windshift-style streams and consumers, and NATS core
// publish / subscribe.

#include "reflex/rnats/codec.hpp"
#include "reflex/rnats/connection.hpp"
#include "reflex/rnats/core.hpp"
#include "reflex/rnats/errors.hpp"
#include "reflex/rnats/kv.hpp"
#include "reflex/rnats/kv_cursor_store.hpp"
#include "reflex/rnats/kv_shard_leases.hpp"
#include "reflex/rnats/publisher.hpp"
#include "reflex/rnats/relay.hpp"
#include "reflex/rnats/source.hpp"
#include "reflex/rnats/streams.hpp"
