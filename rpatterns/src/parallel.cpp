#include "reflex/rpatterns/parallel.hpp"

#include <set>

#include "reflex/errors.hpp"

namespace reflex::rpatterns {

std::uint32_t fnv1_32(std::string_view bytes) noexcept {
  std::uint32_t hash = 2166136261u;
  for (const char c : bytes) {
    hash *= 16777619u;
    hash ^= static_cast<std::uint8_t>(c);
  }
  return hash;
}

ShardHash by_event_id() {
  return [](const Event& e) -> std::uint64_t { return fnv1_32(e.id); };
}

ShardHash by_type() {
  // The decimal text, as luno/reflex hashes it, so both put a type in the same shard.
  return [](const Event& e) -> std::uint64_t { return fnv1_32(std::to_string(e.type)); };
}

ShardHash by_foreign_id() {
  return [](const Event& e) -> std::uint64_t { return fnv1_32(e.foreign_id); };
}

std::string m_of_n(std::string_view base, std::size_t index, std::size_t count) {
  return std::string(base) + "_" + std::to_string(index + 1) + "_of_" + std::to_string(count);
}

std::vector<Shard> shards(std::string_view base, std::size_t count, const ShardOptions& options) {
  if (count == 0) {
    throw ConfigError("rpatterns::shards: consumer \"" + std::string(base) +
                      "\" needs at least 1 shard");
  }
  const ShardHash hash = options.hash ? options.hash : by_event_id();
  const ShardName name = options.name ? options.name : ShardName(m_of_n);
  std::vector<Shard> out;
  out.reserve(count);
  std::set<std::string, std::less<>> names;
  for (std::size_t index = 0; index < count; ++index) {
    std::string shard_name = name(base, index, count);
    if (shard_name.empty() || !names.insert(shard_name).second) {
      throw ConfigError("rpatterns::shards: the shard name function gave \"" + shard_name +
                        "\" for shard " + std::to_string(index + 1) + " of " +
                        std::to_string(count) + " of \"" + std::string(base) +
                        "\"; names must be non-empty and distinct, they key the cursors");
    }
    auto filter = [hash, index, count](const Event& e) { return hash(e) % count == index; };
    out.push_back(Shard{.name = std::move(shard_name),
                        .index = index,
                        .count = count,
                        .filter = std::move(filter)});
  }
  return out;
}

std::vector<Spec> parallel_specs(std::string_view base, std::size_t count, StreamFunc stream,
                                 std::shared_ptr<CursorStore> cursors, ConsumeFunc fn,
                                 ParallelOptions options) {
  if (!stream) throw ConfigError("rpatterns::parallel_specs: the stream function is empty");
  if (!cursors) throw ConfigError("rpatterns::parallel_specs: the cursor store is null");
  if (!fn) {
    throw ConfigError("rpatterns::parallel_specs: consumer \"" + std::string(base) +
                      "\" has no function");
  }
  std::vector<Spec> specs;
  specs.reserve(count);
  for (auto& shard : shards(base, count, options.shard)) {
    ConsumerOptions consumer = options.consumer;
    consumer.filter = consumer.filter ? all_of({std::move(shard.filter), consumer.filter})
                                      : std::move(shard.filter);
    specs.push_back(Spec{.stream = stream,
                         .cursors = cursors,
                         .consumer = make_consumer(std::move(shard.name), fn, std::move(consumer)),
                         .options = options.stream});
  }
  return specs;
}

}  // namespace reflex::rpatterns
