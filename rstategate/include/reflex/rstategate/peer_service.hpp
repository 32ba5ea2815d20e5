#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>

#include "reflex/rstategate/backends.hpp"
#include "reflex/rstategate/export.hpp"
#include "reflex/rstategate/identity.hpp"

namespace grpc {
class Service;
}  // namespace grpc

namespace reflex::rstategate {

namespace detail {
class PeerServiceImpl;
}  // namespace detail

/// How a PeerService behaves where stategate's API leaves it to the server.
struct PeerServiceOptions {
  /// Open Stream calls at most; one more is refused with RESOURCE_EXHAUSTED. Each open stream
  /// holds one thread of the gRPC server while it waits for messages.
  std::size_t max_streams = 1024;
  /// How often an open stream notices that its client went away while no message comes.
  std::chrono::milliseconds cancel_check{100};
};

/// stategate.PeerService: Broadcast sends a Message to the current subscribers (nothing is
/// stored); Stream follows the messages of a domain, channel and type, each of which may be "*"
/// (any), in a consumer group when one is named (members of a group share its messages). A
/// PeerMessage carries a uuid v4 id, the time in ns and the broadcaster's verified claims. Every
/// call is checked by `identity` first (UNAUTHENTICATED), then validated as stategate's
/// validator options say (INVALID_ARGUMENT naming the field), and only then reaches `hub`.
///
/// Thread-safety: every member from any thread. Lifetime: must outlive the grpc::Server it is
/// registered with (or shutdown() first); shares the hub.
class REFLEX_RSTATEGATE_EXPORT PeerService final {
 public:
  static constexpr std::string_view name = "stategate.PeerService";

  PeerService(std::shared_ptr<PeerHub> hub, Identity identity, PeerServiceOptions options = {});
  ~PeerService();
  PeerService(const PeerService&) = delete;
  PeerService& operator=(const PeerService&) = delete;

  /// The service to register with grpc::ServerBuilder::RegisterService.
  [[nodiscard]] grpc::Service* service() noexcept;

  /// Stream calls open now (a stream whose client went away counts until its handler noticed,
  /// within cancel_check, and unsubscribed).
  [[nodiscard]] std::size_t open_streams() const;

  /// Ends every open Stream with UNAVAILABLE "server shutting down" and refuses new calls the
  /// same way. Idempotent.
  void shutdown();

 private:
  std::unique_ptr<detail::PeerServiceImpl> impl_;
};

}  // namespace reflex::rstategate
