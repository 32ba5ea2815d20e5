#include "reflex/run.hpp"

#include "reflex/errors.hpp"
#include "reflex/wait.hpp"

namespace reflex {

namespace {

void check(const Spec& spec) {
  if (!spec.stream) throw ConfigError("reflex::run: Spec.stream is empty");
  if (!spec.cursors) throw ConfigError("reflex::run: Spec.cursors is null");
  if (!spec.consumer) throw ConfigError("reflex::run: Spec.consumer is null");
  check_stream_options(spec.options);
}

void stream_into_consumer(std::stop_token stop, const Spec& spec) {
  Consumer& consumer = *spec.consumer;
  const std::string& name = consumer.name();
  const std::string cursor = spec.cursors->get(name);
  consumer.reset();

  // Lag is applied here, uniformly for every source, so the source streams as usual.
  StreamOptions source_options = spec.options;
  source_options.lag = std::chrono::milliseconds::zero();
  const auto lag = spec.options.lag;

  auto client = spec.stream(stop, cursor, source_options);
  if (!client) throw Error("reflex::run: the stream function of \"" + name + "\" returned null");

  while (!stop.stop_requested()) {
    Event event = client->recv();
    if (lag > std::chrono::milliseconds::zero() && !sleep_until(stop, event.timestamp + lag)) {
      return;
    }
    try {
      consumer.consume(stop, event);
    } catch (...) {
      throw ConsumeError(name, event.id, event.foreign_id, std::current_exception());
    }
    spec.cursors->set(name, event.id);
  }
}

}  // namespace

void run(std::stop_token stop, const Spec& spec) {
  check(spec);
  try {
    stream_into_consumer(stop, spec);
  } catch (...) {
    // Whatever happened, keep the progress made so far; the original error is the one to report,
    // and a store whose flush failed keeps the cursor for its next flush.
    try {
      spec.cursors->flush();
    } catch (...) {
    }
    if (stop.stop_requested() && is_expected(std::current_exception())) return;
    throw;
  }
  spec.cursors->flush();
}

}  // namespace reflex
