// The operator HTTP server on cpp-httplib (see http.hpp).

#include "http.hpp"

#include <httplib.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "readiness.hpp"
#include "reflex/errors.hpp"

namespace reflex_tools {
namespace {

/// `path` as a regular expression matching only itself (cpp-httplib routes are patterns).
std::string literal_pattern(const std::string& path) {
  std::string out;
  for (const char c : path) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '_' && c != '-')
      out += '\\';
    out += c;
  }
  return out;
}

void answer(httplib::Response& res, const HttpResponse& response) {
  res.status = response.status;
  res.set_content(response.body, response.content_type.c_str());
}

}  // namespace

struct HttpServer::Impl {
  httplib::Server server;
  int port = 0;
  std::atomic<bool> ended{false};
  std::thread thread;
};

HttpServer::HttpServer(const ListenAddress& listen, std::map<std::string, HttpHandler> routes)
    : impl_(std::make_unique<Impl>()) {
  auto& server = impl_->server;
  // A few threads: probes and scrapers come one at a time; /healthz must not wait for /metrics.
  server.new_task_queue = [] { return new httplib::ThreadPool(4); };
  // One request per connection: probes need no more, and a client that reads until the server
  // closes gets its answer at once instead of after the keep-alive timeout.
  server.set_keep_alive_max_count(1);
  server.set_read_timeout(std::chrono::seconds(2));
  server.set_write_timeout(std::chrono::seconds(5));
  std::string paths;
  for (auto& [path, handler] : routes) {
    paths += (paths.empty() ? "" : ", ") + path;
    server.Get(literal_pattern(path),
               [handler = std::move(handler)](const httplib::Request&, httplib::Response& res) {
                 answer(res, handler());
               });
  }
  server.Get(".*", [paths](const httplib::Request&, httplib::Response& res) {
    answer(res, {.status = 404, .body = "not found: try " + paths + "\n"});
  });
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
        std::string what = "internal error";
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        answer(res, {.status = 500, .body = what + "\n"});
      });

  const std::string host = listen.host.empty() ? "0.0.0.0" : listen.host;
  errno = 0;
  impl_->port = listen.port == 0 ? server.bind_to_any_port(host)
                                 : (server.bind_to_port(host, listen.port) ? listen.port : -1);
  if (impl_->port <= 0) {
    throw reflex::Unavailable("cannot listen for HTTP on " + listen.str() +
                              (errno ? std::string(": ") + std::strerror(errno) : ""));
  }
  impl_->thread = std::thread([impl = impl_.get()] {
    impl->server.listen_after_bind();
    impl->ended = true;
  });
  // stop() only stops a server that is running: wait until it runs, so that the destructor can.
  while (!server.is_running() && !impl_->ended)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

HttpServer::~HttpServer() {
  impl_->server.stop();
  impl_->thread.join();
}

int HttpServer::port() const noexcept {
  return impl_->port;
}

std::map<std::string, HttpHandler> operator_routes(
    const Readiness& readiness,
    std::vector<std::shared_ptr<const prometheus::Collectable>> collectables) {
  std::map<std::string, HttpHandler> routes;
  routes["/healthz"] = [] { return HttpResponse{.body = "ok\n"}; };
  routes["/readyz"] = [&readiness] {
    std::string body;
    for (const auto& line : readiness.failures()) body += line + "\n";
    if (body.empty()) return HttpResponse{.body = "ready\n"};
    return HttpResponse{.status = 503, .body = body};
  };
  routes["/metrics"] = [collectables = std::move(collectables)] {
    std::vector<prometheus::MetricFamily> families;
    for (const auto& collectable : collectables) {
      auto more = collectable->Collect();
      families.insert(families.end(), std::make_move_iterator(more.begin()),
                      std::make_move_iterator(more.end()));
    }
    return HttpResponse{.content_type = "text/plain; version=0.0.4; charset=utf-8",
                        .body = prometheus::TextSerializer().Serialize(families)};
  };
  return routes;
}

}  // namespace reflex_tools
