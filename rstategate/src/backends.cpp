// The interfaces' destructors (one home for their vtables).

#include "reflex/rstategate/backends.hpp"

namespace reflex::rstategate {

PeerInbox::~PeerInbox() = default;
PeerHub::~PeerHub() = default;
CacheStore::~CacheStore() = default;
MutexStore::~MutexStore() = default;

}  // namespace reflex::rstategate
