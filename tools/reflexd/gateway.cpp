// REST and Server-Sent Events onto gRPC methods (see gateway.hpp). Calls go through gRPC's
// generic client machinery (the one generated stubs use) with messages made from the method's
// descriptor, so one implementation serves every route of the table.

#include "gateway.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/codegen/rpc_method.h>
#include <grpcpp/support/sync_stream.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "reflex/errors.hpp"

namespace reflexd {
namespace {

namespace pb = google::protobuf;
using reflex_tools::HttpRequest;
using reflex_tools::HttpResponse;
using reflex_tools::HttpStream;

constexpr const char* kJson = "application/json";

/// What a request could not be turned into a message for (answered 400).
struct BadRequest {
  std::string message;
};

std::string status_json(int code, const std::string& message) {
  return nlohmann::json{{"code", code}, {"message", message}, {"details", nlohmann::json::array()}}
      .dump();
}

HttpResponse error_response(int code, const std::string& message) {
  return {
      .status = http_status_of(code), .content_type = kJson, .body = status_json(code, message)};
}

/// The answer to a failed call; gRPC's own statuses (no such method) carry no message.
HttpResponse call_error(const std::string& method, const grpc::Status& status) {
  auto message = status.error_message();
  if (message.empty() && status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    message = method + " is not served by this server";
  } else if (message.empty()) {
    message = method + " failed with gRPC code " + std::to_string(status.error_code());
  }
  return error_response(status.error_code(), message);
}

std::string to_json(const pb::Message& message) {
  pb::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  const auto status = pb::util::MessageToJsonString(message, &out, options);
  if (!status.ok())
    throw reflex::Error("cannot write " + message.GetTypeName() +
                        " as JSON: " + std::string(status.message()));
  return out;
}

const pb::FieldDescriptor* field_named(const pb::Descriptor& type, std::string_view name) {
  for (int i = 0; i < type.field_count(); ++i) {
    const auto* field = type.field(i);
    if (field->name() == name || field->json_name() == name) return field;
  }
  return nullptr;
}

/// The field that dotted `path` names in `type`, each step but the last a singular message.
const pb::FieldDescriptor* field_at(const pb::Descriptor& type, std::string_view path,
                                    std::vector<const pb::FieldDescriptor*>& steps) {
  const pb::Descriptor* at = &type;
  steps.clear();
  while (true) {
    const auto dot = path.find('.');
    const auto* field = field_named(*at, path.substr(0, dot));
    if (field == nullptr) return nullptr;
    steps.push_back(field);
    if (dot == std::string_view::npos) return field;
    if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE || field->is_repeated())
      return nullptr;
    at = field->message_type();
    path.remove_prefix(dot + 1);
  }
}

/// A query or path text as the JSON value that proto3 JSON reads for `field`.
nlohmann::json value_for(const pb::FieldDescriptor& field, const std::string& text) {
  using F = pb::FieldDescriptor;
  switch (field.cpp_type()) {
    case F::CPPTYPE_STRING:
      return text;
    case F::CPPTYPE_BOOL:
      if (text == "true" || text == "1" || text.empty()) return true;
      if (text == "false" || text == "0") return false;
      throw BadRequest{"parameter " + field.name() + " must be true or false (got '" + text + "')"};
    case F::CPPTYPE_ENUM:
    case F::CPPTYPE_MESSAGE: {
      // Numbers, booleans and JSON texts as themselves (google.protobuf.Value, wrappers); any
      // other text as a string (enum names, Timestamp, Duration).
      const auto json = nlohmann::json::parse(text, nullptr, false);
      return json.is_discarded() ? nlohmann::json(text) : json;
    }
    default: {  // numbers: proto3 JSON takes them as numbers or as strings
      const auto json = nlohmann::json::parse(text, nullptr, false);
      return json.is_number() ? json : nlohmann::json(text);
    }
  }
}

/// Sets dotted `path` of `object` (by the fields' JSON names) to `value`; a repeated field
/// collects every value given.
void put(nlohmann::json& object, const std::vector<const pb::FieldDescriptor*>& steps,
         nlohmann::json value) {
  nlohmann::json* at = &object;
  for (std::size_t i = 0; i + 1 < steps.size(); ++i) at = &(*at)[steps[i]->json_name()];
  auto& slot = (*at)[steps.back()->json_name()];
  if (steps.back()->is_repeated()) {
    if (!slot.is_array()) slot = nlohmann::json::array();
    slot.push_back(std::move(value));
  } else {
    slot = std::move(value);
  }
}

void merge_json(const std::string& json, pb::Message& into, bool ignore_unknown) {
  std::unique_ptr<pb::Message> part(into.New());
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = ignore_unknown;
  const auto status = pb::util::JsonStringToMessage(json, part.get(), options);
  if (!status.ok()) {
    throw BadRequest{"the request is not a " + into.GetDescriptor()->full_name() +
                     " in proto3 JSON: " + std::string(status.message())};
  }
  into.MergeFrom(*part);
}

/// One route's method, resolved once.
struct Method {
  std::string name;  // "/stategate.CacheService/Get"
  const pb::Message* request = nullptr;
  const pb::Message* response = nullptr;
  bool streaming = false;
  bool body = false;
  std::unique_ptr<grpc::internal::RpcMethod> rpc;
};

struct Shared {
  std::shared_ptr<grpc::Channel> channel;
  GatewayOptions options;
};

/// The request message of `request` for `method`: the body, then the query, then the path.
std::unique_ptr<pb::Message> request_of(const Method& method, const HttpRequest& request,
                                        std::string& access_token) {
  std::unique_ptr<pb::Message> message(method.request->New());
  const auto& type = *message->GetDescriptor();
  if (method.body && request.body.find_first_not_of(" \t\r\n") != std::string::npos) {
    merge_json(request.body, *message, false);
  }
  std::vector<const pb::FieldDescriptor*> steps;
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [name, value] : request.query) {
    if (name == "access_token") {
      access_token = value;
      continue;
    }
    const auto* field = field_at(type, name, steps);
    if (field == nullptr) {
      throw BadRequest{"unknown query parameter '" + name + "' (not a field of " +
                       type.full_name() + ")"};
    }
    put(params, steps, value_for(*field, value));
  }
  for (const auto& [name, value] : request.path_params) {
    // Checked when the route was made: the path's parameters are fields of the request.
    const auto* field = field_at(type, name, steps);
    put(params, steps, value_for(*field, value));
  }
  if (!params.empty()) merge_json(params.dump(), *message, false);
  return message;
}

void add_authorization(grpc::ClientContext& context, const HttpRequest& request,
                       const std::string& access_token) {
  auto authorization = request.header("authorization");
  if (authorization.empty() && !access_token.empty()) authorization = "Bearer " + access_token;
  if (!authorization.empty()) context.AddMetadata("authorization", authorization);
  // The entity services' optimistic concurrency: the version a change expects, as a header.
  if (const auto expected = request.header("x-expected-version"); !expected.empty()) {
    context.AddMetadata("x-expected-version", expected);
  }
}

/// Whether the server behind the channel is stopping (no call may go through it any more).
bool stopping(const Shared& shared) {
  return shared.options.stopping && shared.options.stopping->load();
}

HttpResponse unavailable() {
  return error_response(static_cast<int>(grpc::StatusCode::UNAVAILABLE), "server shutting down");
}

HttpResponse unary(const Shared& shared, const Method& method, const HttpRequest& request) {
  if (stopping(shared)) return unavailable();
  std::string access_token;
  const auto message = request_of(method, request, access_token);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + shared.options.call_timeout);
  add_authorization(context, request, access_token);
  std::unique_ptr<pb::Message> response(method.response->New());
  const auto status = grpc::internal::BlockingUnaryCall<pb::Message, pb::Message>(
      shared.channel.get(), *method.rpc, &context, *message, response.get());
  if (!status.ok()) return call_error(method.name, status);
  return {.content_type = kJson, .body = to_json(*response)};
}

/// An open server-streaming call: a thread reads its messages into a bounded queue, which the
/// HTTP side writes out as events. Destroying it cancels the call and joins the thread.
class StreamCall {
 public:
  StreamCall(const Shared& shared, const Method& method, const pb::Message& request,
             const HttpRequest& http, const std::string& access_token)
      : buffer_(shared.options.stream_buffer) {
    add_authorization(context_, http, access_token);
    reader_.reset(grpc::internal::ClientReaderFactory<pb::Message>::Create(
        shared.channel.get(), *method.rpc, &context_, request));
    thread_ = std::thread([this, prototype = method.response] { read(*prototype); });
  }
  ~StreamCall() {
    context_.TryCancel();
    {
      // Wake a reader waiting for room in the queue.
      const std::lock_guard lock(mutex_);
      cancelled_ = true;
      changed_.notify_all();
    }
    thread_.join();
  }
  StreamCall(const StreamCall&) = delete;
  StreamCall& operator=(const StreamCall&) = delete;

  /// Waits until the call is established, ended, or neither within `limit`; then the status
  /// when it ended with an error before any message, else OK (the call streams).
  grpc::Status wait_open(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, limit, [&] { return metadata_ || finished_; });
    // A call refused at once ends with its initial metadata (trailers only): its status follows
    // within microseconds in the process. Give it a moment, so it is answered as an HTTP error.
    if (metadata_ && !finished_ && queue_.empty()) {
      changed_.wait_for(lock, std::chrono::milliseconds(50),
                        [&] { return finished_ || !queue_.empty(); });
    }
    if (finished_ && queue_.empty() && !status_.ok()) return status_;
    return grpc::Status::OK;
  }

  /// Writes the stream out until it ends, the client leaves or the server stops.
  void pump(HttpStream& out, const GatewayOptions& options) {
    if (!out.write(": open\n\n")) return;
    auto last_write = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    while (true) {
      changed_.wait_for(lock, options.poll, [&] { return !queue_.empty() || finished_; });
      std::deque<std::string> ready;
      ready.swap(queue_);
      const bool finished = finished_ && ready.empty();
      const auto status = status_;
      changed_.notify_all();  // room in the queue again
      lock.unlock();
      for (const auto& json : ready) {
        if (!out.write("data: " + json + "\n\n")) return;
        last_write = std::chrono::steady_clock::now();
      }
      if (finished) {
        (void)out.write("event: end\ndata: " +
                        status_json(status.error_code(), status.error_message()) + "\n\n");
        return;
      }
      if (out.stop_token().stop_requested() || out.client_gone()) return;
      if (std::chrono::steady_clock::now() - last_write >= options.heartbeat) {
        if (!out.write(": keep-alive\n\n")) return;
        last_write = std::chrono::steady_clock::now();
      }
      lock.lock();
    }
  }

 private:
  void read(const pb::Message& prototype) {
    reader_->WaitForInitialMetadata();
    {
      const std::lock_guard lock(mutex_);
      metadata_ = true;
      changed_.notify_all();
    }
    std::unique_ptr<pb::Message> message(prototype.New());
    bool cancelled = false;
    while (!cancelled && reader_->Read(message.get())) {
      auto json = to_json(*message);
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return queue_.size() < buffer_ || cancelled_; });
      cancelled = cancelled_;
      if (!cancelled) queue_.push_back(std::move(json));
      changed_.notify_all();
    }
    // After a cancel, read what is left, so that Finish() does not wait for messages nobody
    // takes.
    while (cancelled && reader_->Read(message.get())) {
    }
    const auto status = reader_->Finish();
    const std::lock_guard lock(mutex_);
    status_ = status;
    finished_ = true;
    changed_.notify_all();
  }

  const std::size_t buffer_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<pb::Message>> reader_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> queue_;
  bool metadata_ = false;
  bool finished_ = false;
  bool cancelled_ = false;
  grpc::Status status_;
  std::thread thread_;  // last: started once the rest is there
};

HttpResponse streaming(const std::shared_ptr<const Shared>& shared,
                       const std::shared_ptr<const Method>& method, const HttpRequest& request) {
  if (stopping(*shared)) return unavailable();
  std::string access_token;
  const auto message = request_of(*method, request, access_token);
  auto call = std::make_shared<StreamCall>(*shared, *method, *message, request, access_token);
  // A call refused at once (identity, validation) answers an HTTP error. One that neither
  // opens nor ends within a second (a service that sends no early metadata) streams anyway.
  if (const auto status = call->wait_open(std::chrono::milliseconds(1000)); !status.ok()) {
    return call_error(method->name, status);
  }
  // Exactly "text/event-stream": cpp-httplib compresses any other text/* type for a client that
  // accepts gzip (a browser), and its compressor would hold the events back.
  return {.content_type = "text/event-stream",
          .headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}},
          .stream = [call, shared](HttpStream& out) { call->pump(out, shared->options); }};
}

}  // namespace

int http_status_of(int code) noexcept {
  switch (static_cast<grpc::StatusCode>(code)) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return 412;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::CANCELLED:
      return 499;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:
      return 500;
  }
}

std::vector<reflex_tools::HttpRoute> gateway_routes(std::shared_ptr<grpc::Channel> channel,
                                                    const std::vector<GatewayRoute>& routes,
                                                    GatewayOptions options) {
  auto shared = std::make_shared<const Shared>(Shared{std::move(channel), options});
  const auto* pool = pb::DescriptorPool::generated_pool();
  auto* factory = pb::MessageFactory::generated_factory();
  std::vector<reflex_tools::HttpRoute> out;
  for (const auto& route : routes) {
    const auto dot = route.rpc.rfind('.');
    const auto* service =
        dot == std::string::npos ? nullptr : pool->FindServiceByName(route.rpc.substr(0, dot));
    const auto* rpc =
        service == nullptr ? nullptr : service->FindMethodByName(route.rpc.substr(dot + 1));
    if (rpc == nullptr || rpc->client_streaming()) {
      throw reflex::ConfigError("gateway route " + route.http_method + " " + route.path +
                                ": no unary or server-streaming method " + route.rpc +
                                " in the generated descriptors");
    }
    auto method = std::make_shared<Method>();
    method->name = "/" + service->full_name() + "/" + rpc->name();
    method->request = factory->GetPrototype(rpc->input_type());
    method->response = factory->GetPrototype(rpc->output_type());
    method->streaming = rpc->server_streaming();
    method->body =
        route.http_method == "POST" || route.http_method == "PUT" || route.http_method == "PATCH";
    method->rpc = std::make_unique<grpc::internal::RpcMethod>(
        method->name.c_str(),
        method->streaming ? grpc::internal::RpcMethod::SERVER_STREAMING
                          : grpc::internal::RpcMethod::NORMAL_RPC,
        shared->channel);
    // Each path parameter must name a string field of the request.
    std::string_view rest = route.path;
    while (true) {
      const auto open = rest.find('{');
      if (open == std::string_view::npos) break;
      const auto close = rest.find('}', open);
      const auto name = rest.substr(open + 1, close - open - 1);
      std::vector<const pb::FieldDescriptor*> steps;
      const auto* field = field_at(*rpc->input_type(), name, steps);
      if (field == nullptr || field->is_repeated()) {
        throw reflex::ConfigError("gateway route " + route.path + ": {" + std::string(name) +
                                  "} is no field of " + rpc->input_type()->full_name());
      }
      rest.remove_prefix(close + 1);
    }
    std::shared_ptr<const Method> resolved = std::move(method);
    out.push_back({route.http_method, route.path,
                   [shared, resolved](const HttpRequest& request) -> HttpResponse {
                     try {
                       return resolved->streaming ? streaming(shared, resolved, request)
                                                  : unary(*shared, *resolved, request);
                     } catch (const BadRequest& bad) {
                       return error_response(static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT),
                                             bad.message);
                     }
                   }});
  }
  return out;
}

}  // namespace reflexd
