#include "reflex/rnats/kv_cursor_store.hpp"

#include <memory>
#include <utility>

#include "kv_cursor_storage.hpp"
#include "kv_state.hpp"

namespace reflex::rnats {

KvCursorStore::KvCursorStore(StateStore store, const KvCursorStoreOptions& options)
    : BufferedCursorStore(std::make_unique<detail::KvCursorStorage>(store),
                          BufferedCursorStoreOptions{.flush_interval = options.flush_interval}),
      store_(std::move(store)) {}

KvCursorStore::KvCursorStore(const Connection& connection, std::string_view bucket,
                             const KvCursorStoreOptions& options)
    : KvCursorStore(detail::open_or_create(connection, bucket), options) {}

}  // namespace reflex::rnats
