#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "connection_state.hpp"
#include "handles.hpp"
#include "reflex/rnats/kv.hpp"

namespace reflex::rnats::detail {

struct StoreState {
  std::shared_ptr<ConnectionState> conn;
  std::string bucket;
  KvStorePtr kv;

  /// The subject a key's writes go to.
  [[nodiscard]] std::string subject(std::string_view key) const;
};

/// Throws ConfigError naming the bucket and what is wrong with `key` (wildcards allowed when
/// `pattern`).
void check_key(std::string_view key, const std::string& bucket, bool pattern);

[[nodiscard]] Entry to_entry(kvEntry* e);

/// An existing bucket as it is (its history, TTL, replicas and limits are its owner's); a missing
/// one created with the defaults (file storage, history 1).
[[nodiscard]] StateStore open_or_create(const Connection& connection, std::string_view bucket);

}  // namespace reflex::rnats::detail
