#pragma once
// A small HTTP/1.1 server for the operator endpoints of `reflexctl serve` (/metrics, /healthz,
// /readyz): GET only, one request per connection, answered on one thread of its own. It is meant
// for scrapers and probes on a private port, not for the public.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace reflexctl {

/// What a handler answers.
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body{};
};

/// Listens on "HOST:PORT" (port 0 picks one) from construction until destruction.
///
/// Thread-safety: port() may be called from any thread; the handler runs on the server's thread,
/// one request at a time. Lifetime: the destructor stops the thread and closes every socket; the
/// handler must stay callable until then.
class HttpServer final {
 public:
  using Handler = std::function<HttpResponse(std::string_view path)>;

  /// Throws reflex::ConfigError for a malformed address and reflex::Unavailable when it cannot
  /// be bound.
  HttpServer(const std::string& listen, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  [[nodiscard]] int port() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace reflexctl
