// The tools' HTTP server on cpp-httplib (see http.hpp).

#include "http.hpp"

#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "readiness.hpp"
#include "reflex/errors.hpp"

namespace reflex_tools {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// `text` with %XX decoded and '+' as a space (application/x-www-form-urlencoded, which query
/// strings use).
std::string url_decoded(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
               hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

/// The parameters of the query string of `target` ("/path?a=1&b=2"), in order. (cpp-httplib's
/// own params also hold a form-encoded body's fields, which are no query parameters.)
std::vector<std::pair<std::string, std::string>> query_of(std::string_view target) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto mark = target.find('?');
  if (mark == std::string_view::npos) return out;
  std::string_view rest = target.substr(mark + 1);
  if (const auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      out.emplace_back(url_decoded(pair.substr(0, eq)), eq == std::string_view::npos
                                                            ? std::string()
                                                            : url_decoded(pair.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return out;
}

/// A route's path, split: a literal segment, or a parameter's name ("{name}").
struct Pattern {
  struct Segment {
    std::string text;
    bool param = false;
  };
  std::vector<Segment> segments;

  static Pattern of(const std::string& path) {
    if (!path.starts_with('/')) throw reflex::ConfigError("HTTP route '" + path + "' is no path");
    Pattern pattern;
    for (const auto segment : reflex_tools::segments(path)) {
      if (segment.starts_with('{')) {
        if (!segment.ends_with('}') || segment.size() < 3) {
          throw reflex::ConfigError("HTTP route '" + path + "': malformed parameter");
        }
        pattern.segments.push_back({std::string(segment.substr(1, segment.size() - 2)), true});
      } else {
        pattern.segments.push_back({std::string(segment), false});
      }
    }
    return pattern;
  }

  /// Whether `path` matches; its parameters into `params`.
  bool match(std::string_view path, std::map<std::string, std::string, std::less<>>& params) const {
    const auto parts = reflex_tools::segments(path);
    if (parts.size() != segments.size()) return false;
    std::map<std::string, std::string, std::less<>> found;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (segments[i].param) {
        found.emplace(segments[i].text, std::string(parts[i]));
      } else if (segments[i].text != parts[i]) {
        return false;
      }
    }
    params = std::move(found);
    return true;
  }
};

/// The connection's socket of a request (matched by its local and remote address). cpp-httplib
/// 0.11 hands handlers no socket, and a client that closed its end of a stream would otherwise
/// be noticed only when a write fails (for a quiet Server-Sent Events stream, at the second
/// heartbeat after it left). Looked up once per stream; -1 when not found (then writes tell).
int connection_socket(const httplib::Request& req) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", error)) {
    const int fd = std::atoi(entry.path().filename().c_str());
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage local{};
    sockaddr_storage peer{};
    socklen_t local_len = sizeof local;
    socklen_t peer_len = sizeof peer;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
        getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
      continue;
    }
    char local_port[NI_MAXSERV];
    char peer_host[NI_MAXHOST];
    char peer_port[NI_MAXSERV];
    if (getnameinfo(reinterpret_cast<sockaddr*>(&local), local_len, nullptr, 0, local_port,
                    sizeof local_port, NI_NUMERICSERV) != 0 ||
        getnameinfo(reinterpret_cast<sockaddr*>(&peer), peer_len, peer_host, sizeof peer_host,
                    peer_port, sizeof peer_port, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
      continue;
    }
    if (std::to_string(req.local_port) == local_port &&
        std::to_string(req.remote_port) == peer_port && req.remote_addr == peer_host) {
      return fd;
    }
  }
  return -1;
}

class SinkStream final : public HttpStream {
 public:
  SinkStream(httplib::DataSink& sink, int fd, std::stop_token stop)
      : sink_(sink), fd_(fd), stop_(std::move(stop)) {}

  bool write(std::string_view data) override {
    if (failed_) return false;
    if (!sink_.write(data.data(), data.size())) failed_ = true;
    return !failed_;
  }
  bool client_gone() override {
    if (failed_) return true;
    if (fd_ < 0) return false;
    pollfd p{.fd = fd_, .events = POLLIN | POLLRDHUP, .revents = 0};
    if (poll(&p, 1, 0) <= 0) return false;
    if ((p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0) return true;
    // Readable: more bytes from the client (it sends none after its request), or its EOF.
    char byte;
    return recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }
  std::stop_token stop_token() const override { return stop_; }

 private:
  httplib::DataSink& sink_;
  int fd_;
  std::stop_token stop_;
  bool failed_ = false;
};

/// A thread per connection, at most `max` at once (cpp-httplib's pool has a fixed number of
/// threads, and a stream holds one for as long as its client listens: a few streams would
/// starve /healthz). enqueue() waits while all are busy, holding back the accept loop.
class ThreadPerConnection final : public httplib::TaskQueue {
 public:
  explicit ThreadPerConnection(std::size_t max) : max_(std::max<std::size_t>(max, 1)) {}

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return active_ < max_; });
    ++active_;
    lock.unlock();
    try {
      std::thread([this, fn = std::move(fn)] {
        fn();
        // Notify under the lock: shutdown() may destroy this queue once it sees 0.
        const std::lock_guard done(mutex_);
        --active_;
        changed_.notify_all();
      }).detach();
    } catch (...) {
      const std::lock_guard undo(mutex_);
      --active_;
      throw;
    }
  }
  void shutdown() override {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return active_ == 0; });
  }

 private:
  const std::size_t max_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t active_ = 0;
};

struct CompiledRoute {
  std::string method;
  Pattern pattern;
  HttpHandler handler;
};

}  // namespace

std::string HttpRequest::header(std::string_view name) const {
  const auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

struct HttpServer::Impl {
  httplib::Server server;
  std::vector<CompiledRoute> routes;
  std::optional<HttpCors> cors;
  std::string paths;
  int port = 0;
  std::stop_source stop;
  std::atomic<bool> ended{false};
  std::thread thread;

  void add_cors(const httplib::Request& req, httplib::Response& res) const {
    if (!cors) return;
    const auto origin = req.get_header_value("Origin");
    if (cors->allow_origins == "*") {
      res.set_header("Access-Control-Allow-Origin", "*");
    } else if (!origin.empty()) {
      std::string_view list = cors->allow_origins;
      while (!list.empty()) {
        const auto comma = list.find(',');
        std::string_view one = list.substr(0, comma);
        while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
        while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
        if (one == origin) {
          res.set_header("Access-Control-Allow-Origin", origin);
          break;
        }
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
      res.set_header("Vary", "Origin");
    }
  }

  void preflight(const httplib::Request& req, httplib::Response& res) const {
    res.status = 204;
    add_cors(req, res);
    res.set_header("Access-Control-Allow-Methods", cors->allow_methods);
    // "*" does not cover Authorization (Fetch standard): name what the page asks for.
    const auto asked = req.get_header_value("Access-Control-Request-Headers");
    res.set_header("Access-Control-Allow-Headers",
                   cors->allow_headers == "*" && !asked.empty() ? asked : cors->allow_headers);
    res.set_header("Access-Control-Max-Age", "600");
  }

  void answer(const httplib::Request& req, httplib::Response& res, HttpResponse response) {
    res.status = response.status;
    add_cors(req, res);
    for (const auto& [name, value] : response.headers) res.set_header(name, value);
    if (!response.stream) {
      res.set_content(response.body, response.content_type.c_str());
      return;
    }
    const int fd = connection_socket(req);
    res.set_chunked_content_provider(
        response.content_type, [stream = std::move(response.stream), fd, token = stop.get_token()](
                                   std::size_t, httplib::DataSink& sink) {
          SinkStream out(sink, fd, token);
          stream(out);
          sink.done();
          return true;
        });
  }

  void dispatch(const httplib::Request& req, httplib::Response& res) {
    const std::string method = req.method == "HEAD" ? "GET" : req.method;
    HttpRequest request{.method = req.method, .path = req.path};
    std::string allowed;
    for (const auto& route : routes) {
      if (!route.pattern.match(req.path, request.path_params)) continue;
      if (route.method != method) {
        if (allowed.find(route.method) == std::string::npos) {
          allowed += (allowed.empty() ? "" : ", ") + route.method;
        }
        continue;
      }
      request.query = query_of(req.target);
      for (const auto& [name, value] : req.headers) request.headers.emplace(lower(name), value);
      request.body = req.body;
      HttpResponse response;
      try {
        response = route.handler(request);
      } catch (const std::exception& e) {
        response = {.status = 500, .body = std::string(e.what()) + "\n"};
      }
      answer(req, res, std::move(response));
      return;
    }
    if (!allowed.empty()) {
      answer(req, res,
             {.status = 405,
              .body = req.method + " is not allowed here: try " + allowed + "\n",
              .headers = {{"Allow", allowed}}});
      return;
    }
    answer(req, res, {.status = 404, .body = "not found: try " + paths + "\n"});
  }
};

HttpServer::HttpServer(const ListenAddress& listen, std::vector<HttpRoute> routes,
                       HttpServerOptions options)
    : impl_(std::make_unique<Impl>()) {
  auto& server = impl_->server;
  impl_->cors = options.cors;
  for (auto& route : routes) {
    impl_->paths += (impl_->paths.empty() ? "" : ", ") + route.path;
    impl_->routes.push_back(
        {std::move(route.method), Pattern::of(route.path), std::move(route.handler)});
  }
  server.new_task_queue = [max = options.max_connections] { return new ThreadPerConnection(max); };
  // One request per connection: probes need no more, and a client that reads until the server
  // closes gets its answer at once instead of after the keep-alive timeout.
  server.set_keep_alive_max_count(1);
  server.set_read_timeout(std::chrono::seconds(2));
  server.set_write_timeout(std::chrono::seconds(5));
  server.set_payload_max_length(8u << 20);
  const auto dispatch = [impl = impl_.get()](const httplib::Request& req, httplib::Response& res) {
    impl->dispatch(req, res);
  };
  server.Get(".*", dispatch);
  server.Post(".*", dispatch);
  server.Put(".*", dispatch);
  server.Patch(".*", dispatch);
  server.Delete(".*", dispatch);
  server.Options(".*", [impl = impl_.get()](const httplib::Request& req, httplib::Response& res) {
    if (impl->cors) {
      impl->preflight(req, res);
    } else {
      impl->dispatch(req, res);
    }
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
        res.status = 500;
        res.set_content(what + "\n", "text/plain; charset=utf-8");
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
    // A write to a client that left raises SIGPIPE, which would end the process: blocked on
    // this thread, and so on the connections' threads it starts, a write says EPIPE instead.
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
    impl->server.listen_after_bind();
    impl->ended = true;
  });
  // stop() only stops a server that is running: wait until it runs, so that the destructor can.
  while (!server.is_running() && !impl_->ended)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

HttpServer::~HttpServer() {
  impl_->stop.request_stop();
  impl_->server.stop();
  impl_->thread.join();
}

int HttpServer::port() const noexcept {
  return impl_->port;
}

std::vector<HttpRoute> operator_routes(
    const Readiness& readiness,
    std::vector<std::shared_ptr<const prometheus::Collectable>> collectables) {
  std::vector<HttpRoute> routes;
  routes.push_back(
      {"GET", "/healthz", [](const HttpRequest&) { return HttpResponse{.body = "ok\n"}; }});
  routes.push_back({"GET", "/readyz", [&readiness](const HttpRequest&) {
                      std::string body;
                      for (const auto& line : readiness.failures()) body += line + "\n";
                      if (body.empty()) return HttpResponse{.body = "ready\n"};
                      return HttpResponse{.status = 503, .body = body};
                    }});
  routes.push_back(
      {"GET", "/metrics", [collectables = std::move(collectables)](const HttpRequest&) {
         std::vector<prometheus::MetricFamily> families;
         for (const auto& collectable : collectables) {
           auto more = collectable->Collect();
           families.insert(families.end(), std::make_move_iterator(more.begin()),
                           std::make_move_iterator(more.end()));
         }
         return HttpResponse{.content_type = "text/plain; version=0.0.4; charset=utf-8",
                             .body = prometheus::TextSerializer().Serialize(families)};
       }});
  return routes;
}

}  // namespace reflex_tools
