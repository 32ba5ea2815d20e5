#pragma once
// reflexd's lifecycle: open what the configuration names, serve it on one gRPC server and the
// operator HTTP port, drain on SIGINT/SIGTERM.

#include "config.hpp"
#include "log.hpp"

namespace reflexd {

/// Serves `config` until SIGINT or SIGTERM, then drains: health says NOT_SERVING, the windshift
/// services end their streams, reflexpb streams end with Stopped, calls still open after the
/// drain timeout are cut. Returns 0 after a drain. Throws what opening a source, the NATS URL or
/// a listening address throws (reflex::ConfigError: exit 2; others: exit 1).
/// block_stop_signals() must have run before any thread started.
int run(const Config& config, Log& log);

}  // namespace reflexd
