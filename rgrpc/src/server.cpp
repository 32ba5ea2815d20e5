// The ready-made server: endpoints by method name, TLS, token, health, reflection, graceful stop.
#include "reflex/rgrpc/server.hpp"

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/codegen/server_callback_handlers.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/server_interceptor.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "reflex/errors.hpp"
#include "reflex/rgrpc/generic.hpp"
#include "util.hpp"

namespace reflex::rgrpc {
namespace {

/// A gRPC service whose server-streaming methods (names chosen at run time) each serve one
/// StreamFunc. It registers methods the way protoc-generated callback services do, through the
/// grpc::internal handler types that generated code uses (so it needs no code generation).
class EndpointService final : public grpc::Service {
 public:
  EndpointService(StreamServer& streams, std::vector<Endpoint> endpoints)
      : streams_(streams), endpoints_(std::move(endpoints)) {
    for (std::size_t i = 0; i < endpoints_.size(); ++i) {
      // RpcServiceMethod keeps the name pointer: endpoints_ never changes after this.
      AddMethod(new grpc::internal::RpcServiceMethod(
          endpoints_[i].method.c_str(), grpc::internal::RpcMethod::SERVER_STREAMING, nullptr));
      MarkMethodCallback(static_cast<int>(i),
                         new grpc::internal::CallbackServerStreamingHandler<reflexpb::StreamRequest,
                                                                            reflexpb::Event>(
                             [this, i](grpc::CallbackServerContext* context,
                                       const reflexpb::StreamRequest* request) {
                               return streams_.serve(context, *request, endpoints_[i].stream,
                                                     endpoints_[i].named);
                             }));
    }
  }

 private:
  StreamServer& streams_;
  const std::vector<Endpoint> endpoints_;
};

/// Turns server reflection on or off for one builder. Debian's libgrpc++_reflection registers its
/// plugin for every builder of the process at load time; this option removes it when unwanted and
/// adds it when it is missing.
class ReflectionOption final : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool enabled) : enabled_(enabled) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    const std::string name = grpc::reflection::ProtoServerReflectionPlugin().name();
    const auto is_reflection = [&](const auto& plugin) { return plugin->name() == name; };
    if (!enabled_) {
      std::erase_if(*plugins, is_reflection);
    } else if (std::none_of(plugins->begin(), plugins->end(), is_reflection)) {
      plugins->push_back(std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>());
    }
  }

 private:
  bool enabled_;
};

// "/package.Service/Method" -> "package.Service".
std::string service_of(const std::string& method) {
  const auto slash = method.find('/', 1);
  const bool valid = method.size() > 3 && method[0] == '/' && slash != std::string::npos &&
                     slash > 1 && slash + 1 < method.size() &&
                     method.find('/', slash + 1) == std::string::npos &&
                     method.find_first_of(" \t\r\n") == std::string::npos;
  if (!valid) {
    throw ConfigError("rgrpc: method name \"" + method +
                      "\" is not of the form \"/package.Service/Method\" (for example "
                      "\"/reflexpb.Reflex/Stream\")");
  }
  return method.substr(1, slash - 1);
}

std::string host_of(const std::string& listen) {
  const auto colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") return "127.0.0.1";
  return host;
}

}  // namespace

ServerTls ServerTls::from_files(const std::string& cert_chain, const std::string& private_key,
                                const std::string& client_ca) {
  return {.cert_chain_pem = detail::read_file(cert_chain, "TLS certificate chain"),
          .private_key_pem = detail::read_file(private_key, "TLS private key"),
          .client_ca_pem =
              client_ca.empty() ? std::string() : detail::read_file(client_ca, "TLS client CA")};
}

/// gRPC owns its interceptor factories; ServerOptions shares them: this one forwards.
class SharedInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit SharedInterceptorFactory(
      std::shared_ptr<grpc::experimental::ServerInterceptorFactoryInterface> inner)
      : inner_(std::move(inner)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return inner_->CreateServerInterceptor(info);
  }

 private:
  std::shared_ptr<grpc::experimental::ServerInterceptorFactoryInterface> inner_;
};

struct Server::Impl {
  Impl(std::vector<Endpoint> endpoints, ServerOptions opts)
      : options(std::move(opts)),
        streams({.token = options.token, .max_streams = options.max_streams}) {
    if (endpoints.empty() && options.services.empty()) {
      throw ConfigError("rgrpc: a server needs at least one endpoint or service to serve");
    }
    // One service per service name, so health and reflection list each by its name.
    std::map<std::string, std::vector<Endpoint>> by_service;
    std::set<std::string> methods;
    for (auto& endpoint : endpoints) {
      if (!endpoint.stream) {
        throw ConfigError("rgrpc: endpoint " + endpoint.method + " has no stream function");
      }
      if (!methods.insert(endpoint.method).second) {
        throw ConfigError("rgrpc: method " + endpoint.method + " is served twice");
      }
      auto name = service_of(endpoint.method);
      by_service[name].push_back(std::move(endpoint));
    }

    grpc::ServerBuilder builder;
    std::shared_ptr<grpc::ServerCredentials> credentials;
    if (options.tls) {
      const auto& tls = *options.tls;
      if (tls.cert_chain_pem.empty() || tls.private_key_pem.empty()) {
        throw ConfigError(
            "rgrpc: server TLS needs a certificate chain and a private key (PEM); use "
            "ServerTls::from_files(cert, key) or leave ServerOptions::tls empty for plaintext");
      }
      grpc::SslServerCredentialsOptions ssl(
          tls.client_ca_pem.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                    : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      ssl.pem_root_certs = tls.client_ca_pem;
      ssl.pem_key_cert_pairs.push_back({tls.private_key_pem, tls.cert_chain_pem});
      credentials = grpc::SslServerCredentials(ssl);
    } else {
      credentials = grpc::InsecureServerCredentials();
    }
    builder.AddListeningPort(options.listen, credentials, &port);

    const auto ms = [](std::chrono::milliseconds d) { return static_cast<int>(d.count()); };
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ms(options.keepalive_time));
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(options.keepalive_timeout));
    // Keep pinging a connection whose stream is idle (no events for hours is normal), so a
    // vanished client is noticed and its source stopped.
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    // Let clients keep idle streams alive with pings every 10 s or more.
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
    // A write marked with the buffer hint (stream_server.cpp) completes while up to this many
    // bytes of its stream wait unsent in the transport; gRPC's default (64 KiB, plus a slice per
    // message and the slice array) made a follower behind the head cost ~300 KiB of heap.
    // 16 KiB still coalesces ~100 small events per frame.
    builder.AddChannelArgument(GRPC_ARG_HTTP2_WRITE_BUFFER_SIZE, 16 * 1024);
    builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
    builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));

    for (auto& [name, group] : by_service) {
      services.push_back(std::make_unique<EndpointService>(streams, std::move(group)));
      builder.RegisterService(services.back().get());
      service_names.push_back(name);
    }
    for (auto* service : options.services) builder.RegisterService(service);
    for (const auto& name : options.service_names) service_names.push_back(name);
    builder.SetOption(std::make_unique<ReflectionOption>(options.reflection));
    if (!options.interceptors.empty()) {
      std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> owned;
      for (const auto& factory : options.interceptors) {
        owned.push_back(std::make_unique<SharedInterceptorFactory>(factory));
      }
      builder.experimental().SetInterceptorCreators(std::move(owned));
    }

    // The default health service is a process-wide switch read by BuildAndStart: set it for this
    // build only.
    const bool health_before = grpc::DefaultHealthCheckServiceEnabled();
    grpc::EnableDefaultHealthCheckService(options.health);
    server = builder.BuildAndStart();
    grpc::EnableDefaultHealthCheckService(health_before);
    if (!server || port == 0) {
      server.reset();
      throw Unavailable("rgrpc: cannot listen on \"" + options.listen +
                        "\" (address in use, not local, or malformed; TLS key and certificate "
                        "must be valid PEM and match)");
    }
    if (auto* health = server->GetHealthCheckService()) {
      health->SetServingStatus(true);
      for (const auto& name : service_names) health->SetServingStatus(name, true);
    }
    address = host_of(options.listen) + ":" + std::to_string(port);
  }

  void stop() {
    std::lock_guard lock(stop_mu);
    if (stopped) return;
    stopped = true;
    const auto deadline = std::chrono::steady_clock::now() + options.stop_timeout;
    if (auto* health = server->GetHealthCheckService()) health->Shutdown();
    // GOAWAY first, while the open calls are still open: gRPC's graceful shutdown of a
    // connection waits for the client to answer the ping sent with its GOAWAY, and a client
    // reads (and answers) while a call of its is open. Were the calls ended first, an idle
    // C++ client would answer only at its channel's next backup poll (every 5 s), and the drain
    // would wait that long for nothing. Shutting down again below is allowed by gRPC; both
    // notifications come when the server is down.
    // (The C API: grpc++'s queues expect their own internal tag types.)
    const std::unique_ptr<grpc_completion_queue, decltype(&grpc_completion_queue_destroy)>
        shutdown_notice(grpc_completion_queue_create_for_next(nullptr),
                        &grpc_completion_queue_destroy);
    grpc_server_shutdown_and_notify(server->c_server(), shutdown_notice.get(), this);
    if (options.on_stop) options.on_stop();
    // Open streams end with Stopped; new calls are refused by the shutdown.
    streams.stop(std::chrono::milliseconds::zero());
    server->Shutdown(std::chrono::system_clock::now() + options.stop_timeout);
    // The server is down: the notice has come. A queue is destroyed shut down and drained.
    grpc_completion_queue_shutdown(shutdown_notice.get());
    while (grpc_completion_queue_next(shutdown_notice.get(), gpr_inf_future(GPR_CLOCK_MONOTONIC),
                                      nullptr)
               .type != GRPC_QUEUE_SHUTDOWN) {
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    streams.stop(std::max(left, std::chrono::milliseconds(100)));
  }

  ServerOptions options;
  StreamServer streams;
  std::vector<std::unique_ptr<EndpointService>> services;
  std::vector<std::string> service_names;
  int port = 0;
  std::string address;
  std::mutex stop_mu;
  bool stopped = false;
  std::unique_ptr<grpc::Server> server;  // last: destroyed first, before what it serves
};

Server::Server(StreamFunc stream, ServerOptions options)
    : Server(std::vector<Endpoint>{Endpoint{.stream = std::move(stream)}}, std::move(options)) {}

Server::Server(std::vector<Endpoint> endpoints, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(endpoints), std::move(options))) {}

Server::~Server() {
  stop();
}

void Server::set_serving(const std::string& service, bool serving) {
  std::lock_guard lock(impl_->stop_mu);
  if (impl_->stopped) return;  // stop() said NOT_SERVING for good
  if (auto* health = impl_->server->GetHealthCheckService()) {
    if (service.empty()) {
      health->SetServingStatus(serving);
    } else {
      health->SetServingStatus(service, serving);
    }
  }
}

int Server::port() const noexcept {
  return impl_->port;
}

std::string Server::address() const {
  return impl_->address;
}

std::shared_ptr<grpc::Channel> Server::in_process_channel() const {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(impl_->options.max_message_bytes));
  args.SetMaxSendMessageSize(static_cast<int>(impl_->options.max_message_bytes));
  return impl_->server->InProcessChannel(args);
}

void Server::stop() {
  impl_->stop();
}

void Server::wait() {
  impl_->server->Wait();
}

StreamStats Server::stats() const {
  return impl_->streams.stats();
}

}  // namespace reflex::rgrpc
