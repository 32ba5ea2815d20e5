#include <iostream>
#include <reflex/reflex.hpp>
#ifdef HAVE_REFLEX_PROMETHEUS
#include <reflex/prometheus/metrics.hpp>
#endif

int main() {
  reflex::MemLog log;
  for (int i = 0; i < 3; ++i) log.append(1, "user-" + std::to_string(i));

  int consumed = 0;
  reflex::ConsumerOptions options;
#ifdef HAVE_REFLEX_PROMETHEUS
  prometheus::Registry registry;
  options.metrics = std::make_shared<reflex::prometheus::Metrics>(registry);
#endif
  reflex::Spec spec{
      .stream = log.stream_func(),
      .cursors = std::make_shared<reflex::MemCursorStore>(),
      .consumer = reflex::make_consumer(
          "install-check", [&](const reflex::Event&) { ++consumed; }, std::move(options)),
      .options = {.to_head = true},
  };
  try {
    reflex::run(std::stop_token{}, spec);
  } catch (const reflex::HeadReached&) {
  }
  std::cout << "reflex " << reflex::version_string << ": consumed " << consumed << " events\n";
  return consumed == 3 ? 0 : 1;
}
