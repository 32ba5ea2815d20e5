#pragma once

#include <memory>
#include <string>

#include "reflex/rnats/connection.hpp"
#include "reflex/rnats/streams.hpp"
#include "reflex/rstategate/backends.hpp"
#include "reflex/rstategate/export.hpp"

// The stategate backends on NATS: peer messages over core subjects, the cache and the locks in
// JetStream KV buckets (created on first use). Several servers on one NATS share them.
//
// Wire format, for other programs on the same NATS: a peer message is published on
// "<subject_prefix>.<domain>.<channel>.<type>", each name through rnats::escape_key (so any
// name is one token; Stream's "*" is NATS's "*"), its payload a serialized stategate.PeerMessage;
// consumer groups are NATS queue groups. Cache and mutex keys are "<domain>.<key>" escaped the
// same way, each value "<expiry in ns since the epoch, 0 for never>\n<value>" (nats-server 2.9
// has no per-key TTL, so expiry is kept with the value and honoured on reading).

namespace reflex::rstategate {

struct NatsPeerHubOptions {
  /// The first tokens of every peer subject.
  std::string subject_prefix = "stategate.peer";
  /// Messages a subscription holds before NATS holds (then drops) them for it.
  std::size_t inbox_capacity = 1024;
};

struct NatsBucketOptions {
  /// The KV bucket; created when missing.
  std::string bucket{};
  rnats::Storage storage = rnats::Storage::file;
};

/// Peer messages over NATS core subjects (Thread-safety and lifetime: see PeerHub; it keeps the
/// connection alive).
[[nodiscard]] REFLEX_RSTATEGATE_EXPORT std::shared_ptr<PeerHub> make_nats_peer_hub(
    rnats::Connection nats, NatsPeerHubOptions options = {});
/// Cached values in a KV bucket (default "stategate-cache"); an expired value read is deleted
/// with a revision check (a value set again meanwhile stays).
[[nodiscard]] REFLEX_RSTATEGATE_EXPORT std::shared_ptr<CacheStore> make_nats_cache_store(
    rnats::Connection nats, NatsBucketOptions options = {.bucket = "stategate-cache"});
/// Locks in a KV bucket (default "stategate-mutex"): a lock is a create-only write; an expired
/// lock is taken over by an update on its revision, so two contenders never both win; unlock
/// deletes on the revision it read.
[[nodiscard]] REFLEX_RSTATEGATE_EXPORT std::shared_ptr<MutexStore> make_nats_mutex_store(
    rnats::Connection nats, NatsBucketOptions options = {.bucket = "stategate-mutex"});

}  // namespace reflex::rstategate
