#include "reflex/rnats/kv_cursor_store.hpp"

#include <memory>
#include <utility>

#include "kv_cursor_storage.hpp"
#include "reflex/rnats/errors.hpp"

namespace reflex::rnats {

namespace {

/// An existing bucket as it is (its history, TTL, replicas and limits are its owner's); a missing
/// one created with the defaults.
StateStore open_or_create(const Connection& connection, std::string_view bucket) {
  try {
    return StateStore::open(connection, bucket);
  } catch (const NotFound&) {
    return StateStore::ensure(connection, StoreConfig{.name = std::string(bucket)});
  }
}

}  // namespace

KvCursorStore::KvCursorStore(StateStore store, const KvCursorStoreOptions& options)
    : BufferedCursorStore(std::make_unique<detail::KvCursorStorage>(store),
                          BufferedCursorStoreOptions{.flush_interval = options.flush_interval}),
      store_(std::move(store)) {}

KvCursorStore::KvCursorStore(const Connection& connection, std::string_view bucket,
                             const KvCursorStoreOptions& options)
    : KvCursorStore(open_or_create(connection, bucket), options) {}

}  // namespace reflex::rnats
