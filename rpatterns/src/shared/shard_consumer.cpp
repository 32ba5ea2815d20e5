// shard_consumer: a consumer function as the spec of each owned shard.
#include "reflex/errors.hpp"
#include "reflex/rpatterns/shared.hpp"

namespace reflex::rpatterns {

ShardSpecFunc shard_consumer(StreamFunc stream, ConsumeFunc fn, ConsumerOptions consumer,
                             StreamOptions options) {
  if (!stream) throw ConfigError("rpatterns::shard_consumer: the stream function is empty");
  if (!fn) throw ConfigError("rpatterns::shard_consumer: the consumer function is empty");
  return [stream = std::move(stream), fn = std::move(fn), consumer = std::move(consumer),
          options = std::move(options)](const ShardContext& context) {
    ConsumerOptions shard_options = consumer;
    shard_options.filter =
        consumer.filter ? all_of({context.filter, consumer.filter}) : context.filter;
    // The shard's consumer reports under the shard's name: its lag is the shard's lag.
    if (!shard_options.metrics) shard_options.metrics = context.metrics;
    return Spec{.stream = stream,
                .cursors = context.cursors,
                .consumer = make_consumer(context.name, fn, std::move(shard_options)),
                .options = options};
  };
}

}  // namespace reflex::rpatterns
