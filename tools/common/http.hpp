#pragma once
// HTTP of the tools: one small server on cpp-httplib for every route a tool serves — the
// operator endpoints (/healthz, /readyz, /metrics by prometheus-cpp) and, in reflexd, the REST
// and Server-Sent Events routes of its gRPC services. Routes name a method and a path whose
// `{name}` segments are parameters; a response is a body, or a stream written while the client
// listens. Nothing here knows about CLI11 or gRPC.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "serve_config.hpp"

namespace prometheus {
class Collectable;
}  // namespace prometheus

namespace reflex_tools {

class Readiness;

/// A request as a handler sees it.
struct HttpRequest {
  std::string method{};
  /// The path, percent-decoded, without the query string.
  std::string path{};
  /// The values of the route's `{name}` segments, percent-decoded.
  std::map<std::string, std::string, std::less<>> path_params{};
  /// The query string's parameters, decoded, in their order (a name may repeat).
  std::vector<std::pair<std::string, std::string>> query{};
  /// The headers, names in lower case.
  std::multimap<std::string, std::string, std::less<>> headers{};
  std::string body{};

  /// The first value of header `name` (lower case), or "".
  [[nodiscard]] std::string header(std::string_view name) const;
};

/// The writing end of a streamed response, handed to HttpResponse::stream.
///
/// Thread-safety: one thread writes; client_gone() and stop_token() from any thread.
class HttpStream {
 public:
  virtual ~HttpStream() = default;
  /// Sends `data` to the client at once (one chunk, not buffered); false once the client is
  /// gone or a write timed out (then every later write is false too).
  virtual bool write(std::string_view data) = 0;
  /// True when the client closed its end of the connection (noticed without writing).
  [[nodiscard]] virtual bool client_gone() = 0;
  /// Stop is requested when the server is being destroyed: end the stream.
  [[nodiscard]] virtual std::stop_token stop_token() const = 0;
};

/// What a handler answers.
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body{};
  /// More headers ("Name", "value").
  std::vector<std::pair<std::string, std::string>> headers{};
  /// When set, the body is this function's writing instead of `body`, sent chunked as it
  /// writes: it runs on the request's thread, after status and headers went out, until it
  /// returns (it should return when the stream's client is gone or stop is requested).
  std::function<void(HttpStream&)> stream{};
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

/// One route: `method` ("GET", "POST", "PUT", "PATCH", "DELETE") of the paths matching
/// `path`, whose segments are literal or `{name}` (one non-empty segment, into
/// HttpRequest::path_params). GET routes answer HEAD too.
struct HttpRoute {
  std::string method{};
  std::string path{};
  HttpHandler handler{};
};

/// Cross-origin resource sharing (what a browser page of another origin may call). Each list is
/// comma-separated; "*" allows any.
struct HttpCors {
  std::string allow_origins = "*";
  std::string allow_methods = "GET,POST,PUT,PATCH,DELETE,OPTIONS";
  std::string allow_headers = "*";
};

struct HttpServerOptions {
  /// Requests handled at once (each holds a thread while it runs; a stream holds one for as
  /// long as it lasts). When all are busy, new connections wait in the listen backlog.
  std::size_t max_connections = 256;
  /// When set, every response carries CORS headers and OPTIONS of any path is answered as a
  /// preflight (204).
  std::optional<HttpCors> cors{};
};

/// Listens from construction until destruction and answers each request with the handler of
/// the first route that matches its method and path: 404 naming the paths when no path matches,
/// 405 naming the methods when the path matches for other methods only, 500 with the text of an
/// exception a handler throws. Requests are answered concurrently, each connection on a thread
/// of its own (up to options.max_connections), one request per connection.
///
/// Thread-safety: handlers run on the server's threads, several at once. Lifetime: the destructor
/// requests stop of every open stream, stops listening and waits for running handlers; they
/// must stay callable until then.
class HttpServer final {
 public:
  /// Throws reflex::Unavailable when `listen` cannot be bound, reflex::ConfigError for a
  /// malformed route path.
  HttpServer(const ListenAddress& listen, std::vector<HttpRoute> routes,
             HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// The port listened on (the one picked when listen.port was 0).
  [[nodiscard]] int port() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The operator endpoints (GET): /healthz answers 200 "ok" at once, always; /readyz 200
/// "ready", or 503 with one "NAME: why" line per source that is not (from `readiness`'s cache);
/// /metrics the Prometheus text of every family of `collectables` (prometheus-cpp's
/// TextSerializer). `readiness` and the collectables must outlive the server the routes are
/// given to.
[[nodiscard]] std::vector<HttpRoute> operator_routes(
    const Readiness& readiness,
    std::vector<std::shared_ptr<const prometheus::Collectable>> collectables);

}  // namespace reflex_tools
