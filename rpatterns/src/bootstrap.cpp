#include "reflex/rpatterns/bootstrap.hpp"

#include "reflex/errors.hpp"

namespace reflex::rpatterns {

StreamFunc bootstrap(StreamFunc stream) {
  if (!stream) throw ConfigError("rpatterns::bootstrap: the stream function is empty");
  // Decided per call from the cursor itself, so no state is shared between consumers or runs.
  return [stream = std::move(stream)](std::stop_token stop, std::string_view after,
                                      const StreamOptions& options) {
    if (!after.empty()) return stream(std::move(stop), after, options);
    StreamOptions from_head = options;
    from_head.from_head = true;
    return stream(std::move(stop), after, from_head);
  };
}

Spec bootstrap(Spec spec) {
  spec.stream = bootstrap(std::move(spec.stream));
  return spec;
}

}  // namespace reflex::rpatterns
