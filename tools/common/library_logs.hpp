#pragma once
// The libraries' own logging. The tools say every failure itself, in one line; gRPC core and
// protobuf write lines of their own to stderr ("E1201 11:03:37.89 ssl_transport_security.cc:1501]
// Handshake failed …") before it, in another format, saying the same thing.

namespace reflex_tools {

/// Drops gRPC core's log lines unless the operator asked for them with GRPC_VERBOSITY (to debug
/// gRPC itself), and protobuf's. Call first in main(), before any gRPC call. A no-op in a build
/// without gRPC.
void quiet_library_logs();

}  // namespace reflex_tools
