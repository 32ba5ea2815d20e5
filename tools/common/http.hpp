#pragma once
// HTTP for operators: a small server on cpp-httplib, and serve's endpoints on it — /healthz
// (alive), /readyz (every source answers), /metrics (Prometheus text by prometheus-cpp). Meant
// for probes and scrapers on a private port; nothing here knows about CLI11.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "serve_config.hpp"

namespace prometheus {
class Collectable;
}  // namespace prometheus

namespace reflex_tools {

class Readiness;

/// What a handler answers.
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body{};
};

/// Answers GET (and HEAD) of one path.
using HttpHandler = std::function<HttpResponse()>;

/// Listens from construction until destruction and answers each path of `routes` with its
/// handler (404 naming the paths for any other). Requests are answered concurrently, by a small
/// pool of threads, one request per connection.
///
/// Thread-safety: handlers run on the pool's threads, several at once. Lifetime: the destructor
/// stops listening and waits for running handlers; they must stay callable until then.
class HttpServer final {
 public:
  /// Throws reflex::Unavailable when `listen` cannot be bound.
  HttpServer(const ListenAddress& listen, std::map<std::string, HttpHandler> routes);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// The port listened on (the one picked when listen.port was 0).
  [[nodiscard]] int port() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The operator endpoints: /healthz answers 200 "ok" at once, always; /readyz 200 "ready", or 503
/// with one "NAME: why" line per source that is not (from `readiness`'s cache); /metrics the
/// Prometheus text of every family of `collectables` (prometheus-cpp's TextSerializer).
/// `readiness` and the collectables must outlive the server the routes are given to.
[[nodiscard]] std::map<std::string, HttpHandler> operator_routes(
    const Readiness& readiness,
    std::vector<std::shared_ptr<const prometheus::Collectable>> collectables);

}  // namespace reflex_tools
