// Remote streams: a server-streaming call read as a reflex StreamClient.
#include "reflex/rgrpc/client.hpp"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <type_traits>
#include <vector>

#include "reflex/encoding.hpp"
#include "reflex/errors.hpp"
#include "reflex/rgrpc/generic.hpp"
#include "reflex/uri.hpp"
#include "src/wire_event.pb.h"
#include "status.hpp"
#include "util.hpp"

namespace reflex::rgrpc {
namespace detail {

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || text.str().empty()) {
    throw ConfigError(std::string("rgrpc: cannot read the ") + what + " file \"" + path +
                      "\" (missing, unreadable or empty)");
  }
  return text.str();
}

}  // namespace detail

namespace {

void check_method(const std::string& method) {
  const auto slash = method.find('/', 1);
  if (method.size() < 4 || method[0] != '/' || slash == std::string::npos || slash < 2 ||
      slash + 1 >= method.size()) {
    throw ConfigError("rgrpc: method name \"" + method +
                      "\" is not of the form \"/package.Service/Method\" (for example "
                      "\"/reflexpb.Reflex/Stream\")");
  }
}

/// What the channel's own calls read: the message as wire::Event (reflexpb.Event with its text
/// fields as bytes), checked here. gRPC parsing reflexpb.Event itself would fail on a string
/// field that is not UTF-8, end the sync read without a status, and leave Finish() waiting for
/// one that may never come; here it is an error naming the event, and the call is cancelled.
class WireMessage final {
 public:
  [[nodiscard]] Event parse(const std::string& label) {
    grpc::ProtoBufferReader reader(&buffer_);
    if (!message_.ParseFromZeroCopyStream(&reader)) {
      throw Error("rgrpc: " + label +
                  " sent a message that is not a reflexpb.Event (is the method "
                  "the right one?)");
    }
    auto& m = message_;
    if (!is_utf8(m.id()) || !is_utf8(m.foreign_id())) {
      const bool id_ok = is_utf8(m.id());
      throw Error("rgrpc: " + label + " sent " +
                  (id_ok ? "event " + m.id() + " whose foreign id"
                         : "an event (id hex " + hex_encode(m.id()) + ") whose id") +
                  " is not valid UTF-8, which reflexpb (protobuf strings) cannot carry; the "
                  "server's source holds bytes it should not have (repair that row)");
    }
    Event out{.id = std::move(*m.mutable_id()),
              .type = m.type(),
              .foreign_id = std::move(*m.mutable_foreign_id()),
              .timestamp = {},
              .metadata = std::move(*m.mutable_metadata()),
              .trace = std::move(*m.mutable_trace())};
    if (m.has_timestamp()) out.timestamp = detail::to_time_point(m.timestamp(), out.id);
    return out;
  }
  grpc::ByteBuffer* buffer() noexcept { return &buffer_; }

 private:
  grpc::ByteBuffer buffer_;
  wire::Event message_;
};

/// What calls opened through a StreamOpener (the caller's generated stubs) read.
class TypedMessage final {
 public:
  [[nodiscard]] Event parse(const std::string&) const { return from_proto(message_); }
  reflexpb::Event* buffer() noexcept { return &message_; }

 private:
  reflexpb::Event message_;
};

/// One open call. recv() blocks in the sync reader; the stop token cancels the call
/// (ClientContext::TryCancel from a stop_callback), which wakes it at once.
template <class Message>
class RemoteStream final : public StreamClient {
 public:
  using Reader =
      grpc::ClientReader<std::remove_pointer_t<decltype(std::declval<Message&>().buffer())>>;
  using Open =
      std::function<std::unique_ptr<Reader>(grpc::ClientContext*, const reflexpb::StreamRequest&)>;

  RemoteStream(const Open& open, const CallOptions& options, std::stop_token stop,
               std::string_view after, const StreamOptions& stream_options)
      : stop_(std::move(stop)),
        label_("stream " + options.method +
               (options.stream.empty() ? "" : " (" + options.stream + ")")) {
    if (!options.token.empty()) context_.AddMetadata("authorization", "Bearer " + options.token);
    if (!options.stream.empty()) context_.AddMetadata(kStreamMetadataKey, options.stream);
    context_.set_wait_for_ready(options.wait_for_ready);
    reader_ = open(&context_, to_request(after, stream_options));
    if (!reader_) throw Error("rgrpc: the stream opener returned no call");
    cancel_.emplace(stop_, Cancel{&context_});
  }

  ~RemoteStream() override {
    cancel_.reset();
    if (!done_) {
      // Abandoned mid-stream: cancel, drain what is buffered, and collect the status so that the
      // call's resources are released.
      context_.TryCancel();
      while (reader_->Read(message_.buffer())) {
      }
      (void)reader_->Finish();
    }
  }

  RemoteStream(const RemoteStream&) = delete;
  RemoteStream& operator=(const RemoteStream&) = delete;

  Event recv() override {
    if (error_) std::rethrow_exception(error_);
    if (reader_->Read(message_.buffer())) {
      try {
        return message_.parse(label_ + " from " + peer());
      } catch (...) {
        error_ = std::current_exception();  // the destructor cancels the call
        throw;
      }
    }
    const grpc::Status status = reader_->Finish();
    done_ = true;
    if (stop_.stop_requested()) {
      error_ = std::make_exception_ptr(Canceled());
    } else {
      error_ = detail::error_for(status, label_ + " from " + peer());
    }
    std::rethrow_exception(error_);
  }

 private:
  struct Cancel {
    grpc::ClientContext* context;
    void operator()() const noexcept { context->TryCancel(); }
  };

  std::string peer() const {
    std::string peer = context_.peer();
    return peer.empty() ? "server" : peer;
  }

  grpc::ClientContext context_;
  std::unique_ptr<Reader> reader_;
  Message message_;
  std::stop_token stop_;
  std::string label_;
  bool done_ = false;
  std::exception_ptr error_;
  std::optional<std::stop_callback<Cancel>> cancel_;  // last: gone before the context
};

}  // namespace

ClientTls ClientTls::from_files(const std::string& root_ca, const std::string& cert_chain,
                                const std::string& private_key) {
  const auto read = [](const std::string& path, const char* what) {
    return path.empty() ? std::string() : detail::read_file(path, what);
  };
  return {.root_ca_pem = read(root_ca, "TLS root CA"),
          .cert_chain_pem = read(cert_chain, "TLS client certificate chain"),
          .private_key_pem = read(private_key, "TLS client private key"),
          .server_name = {}};
}

std::shared_ptr<grpc::Channel> make_channel(const ClientOptions& options) {
  if (options.target.empty()) {
    throw ConfigError(
        "rgrpc: ClientOptions::target is empty; set it to the server's \"host:port\"");
  }
  grpc::ChannelArguments args;
  const auto ms = [](std::chrono::milliseconds d) { return static_cast<int>(d.count()); };
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, ms(options.keepalive_time));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(options.keepalive_timeout));
  // Streams may stay idle for hours: keep pinging (without it gRPC stops after two pings).
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls) {
    const auto& tls = *options.tls;
    if (tls.cert_chain_pem.empty() != tls.private_key_pem.empty()) {
      throw ConfigError("rgrpc: a TLS client certificate needs both its chain and its private key");
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = tls.root_ca_pem;
    ssl.pem_cert_chain = tls.cert_chain_pem;
    ssl.pem_private_key = tls.private_key_pem;
    credentials = grpc::SslCredentials(ssl);
    if (!tls.server_name.empty()) args.SetSslTargetNameOverride(tls.server_name);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  return grpc::CreateCustomChannel(options.target, credentials, args);
}

StreamFunc stream_func(StreamOpener open, CallOptions options) {
  if (!open) throw ConfigError("rgrpc: stream_func needs a stream opener");
  return [open = std::move(open), options = std::move(options)](
             std::stop_token stop, std::string_view after,
             const StreamOptions& stream_options) -> std::unique_ptr<StreamClient> {
    return std::make_unique<RemoteStream<TypedMessage>>(open, options, std::move(stop), after,
                                                        stream_options);
  };
}

StreamFunc stream_func(std::shared_ptr<grpc::Channel> channel, CallOptions options) {
  if (!channel) throw ConfigError("rgrpc: stream_func needs a channel");
  check_method(options.method);
  // What a generated stub holds: the method, registered with the channel once.
  auto method = std::make_shared<const std::string>(options.method);
  auto rpc = std::make_shared<const grpc::internal::RpcMethod>(
      method->c_str(), grpc::internal::RpcMethod::SERVER_STREAMING, channel);
  RemoteStream<WireMessage>::Open open = [channel = std::move(channel), method, rpc](
                                             grpc::ClientContext* context,
                                             const reflexpb::StreamRequest& request) {
    return std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>>(
        grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(channel.get(), *rpc, context,
                                                                      request));
  };
  return [open = std::move(open), options = std::move(options)](
             std::stop_token stop, std::string_view after,
             const StreamOptions& stream_options) -> std::unique_ptr<StreamClient> {
    return std::make_unique<RemoteStream<WireMessage>>(open, options, std::move(stop), after,
                                                       stream_options);
  };
}

StreamFunc stream_func(const ClientOptions& options) {
  return stream_func(make_channel(options), CallOptions{.method = options.method,
                                                        .token = options.token,
                                                        .stream = options.stream,
                                                        .wait_for_ready = options.wait_for_ready});
}

std::string read_token_file(const std::string& path) {
  const std::string text = detail::read_file(path, "token");
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    throw ConfigError("rgrpc: the token file \"" + path + "\" holds only whitespace");
  }
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

ClientOptions client_options_from_uri(std::string_view text) {
  const Uri uri = parse_uri(text);
  const bool tls = uri.scheme == "grpcs";
  if (uri.scheme != "grpc" && !tls) {
    throw ConfigError("rgrpc: " + uri.redacted() +
                      " is not a gRPC address; use grpc://host:port or grpcs://host:port");
  }
  if (uri.host.empty() || !uri.port) {
    throw ConfigError("rgrpc: " + uri.redacted() + " needs a host and a port (grpc://host:port)");
  }
  if (!uri.path.empty() && uri.path != "/") {
    throw ConfigError("rgrpc: " + uri.redacted() +
                      " has a path; name the method with ?method=/package.Service/Method");
  }
  if (tls) {
    uri.check_params({"method", "stream", "token_file", "ca", "cert", "key", "server_name"});
  } else {
    uri.check_params({"method", "stream", "token_file"});
  }
  const bool ipv6 = uri.host.find(':') != std::string::npos;
  ClientOptions options{.target = (ipv6 ? "[" + uri.host + "]" : uri.host) + ":" +
                                  std::to_string(*uri.port)};
  if (auto method = uri.param("method")) {
    check_method(*method);
    options.method = *method;
  }
  if (uri.password && uri.param("token_file")) {
    throw ConfigError("rgrpc: " + uri.redacted() +
                      " gives a token twice (in the address and as token_file): keep one");
  }
  if (uri.password) options.token = *uri.password;
  if (auto file = uri.param("token_file")) options.token = read_token_file(*file);
  options.stream = uri.param("stream").value_or("");
  if (tls) {
    options.tls =
        ClientTls::from_files(uri.param("ca").value_or(""), uri.param("cert").value_or(""),
                              uri.param("key").value_or(""));
    options.tls->server_name = uri.param("server_name").value_or("");
  }
  return options;
}

}  // namespace reflex::rgrpc
