#include "http.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "reflex/errors.hpp"

namespace reflexctl {
namespace {

/// Closes a descriptor on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;  // the client went away: nothing to do
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

struct HttpServer::Impl {
  Impl(const std::string& listen, Handler h) : handler(std::move(h)) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon + 1 == listen.size()) {
      throw reflex::ConfigError("HTTP address \"" + listen +
                                "\" is not HOST:PORT (e.g. 127.0.0.1:9100)");
    }
    std::string host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    const std::string service = listen.substr(colon + 1);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (const int rc =
            ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
        rc != 0) {
      throw reflex::ConfigError("HTTP address \"" + listen + "\": " + ::gai_strerror(rc));
    }
    std::string last_error = "no address";
    for (auto* ai = found; ai && listener < 0; ai = ai->ai_next) {
      const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0) continue;
      const int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 64) == 0) {
        listener = fd;
      } else {
        last_error = std::strerror(errno);
        ::close(fd);
      }
    }
    ::freeaddrinfo(found);
    if (listener < 0) {
      throw reflex::Unavailable("cannot listen for HTTP on \"" + listen + "\": " + last_error);
    }
    sockaddr_storage bound{};
    socklen_t size = sizeof bound;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &size);
    port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                             : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    if (::pipe2(wake, O_CLOEXEC) != 0) {
      ::close(listener);
      throw reflex::Unavailable("cannot create a pipe for the HTTP server");
    }
    thread = std::jthread([this] { loop(); });
  }

  ~Impl() {
    char byte = 0;
    [[maybe_unused]] auto n = ::write(wake[1], &byte, 1);
    thread.join();
    ::close(listener);
    ::close(wake[0]);
    ::close(wake[1]);
  }

  void loop() {
    for (;;) {
      pollfd fds[2] = {{listener, POLLIN, 0}, {wake[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0) return;
      const int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) answer(client);
    }
  }

  // Reads the request head (bounded in size and time), answers, closes.
  void answer(int fd) {
    Fd client(fd);
    std::string request;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 8192) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
      char buf[2048];
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      request.append(buf, static_cast<std::size_t>(n));
    }
    const auto line_end = request.find("\r\n");
    const std::string_view line(request.data(), line_end == std::string::npos ? 0 : line_end);
    const auto sp1 = line.find(' ');
    const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    HttpResponse response;
    if (sp2 == std::string_view::npos) {
      response = {.status = 400, .body = "malformed request\n"};
    } else if (line.substr(0, sp1) != "GET" && line.substr(0, sp1) != "HEAD") {
      response = {.status = 405, .body = "only GET\n"};
    } else {
      std::string_view path = line.substr(sp1 + 1, sp2 - sp1 - 1);
      path = path.substr(0, path.find('?'));
      try {
        response = handler(path);
      } catch (const std::exception& e) {
        response = {.status = 500, .body = std::string(e.what()) + "\n"};
      }
    }
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " +
                      reason(response.status) + "\r\nContent-Type: " + response.content_type +
                      "\r\nContent-Length: " + std::to_string(response.body.size()) +
                      "\r\nConnection: close\r\n\r\n";
    if (!line.starts_with("HEAD")) out += response.body;
    write_all(fd, out);
  }

  Handler handler;
  int listener = -1;
  int wake[2] = {-1, -1};
  int port = 0;
  std::jthread thread;  // last: started when everything else is ready
};

HttpServer::HttpServer(const std::string& listen, Handler handler)
    : impl_(std::make_unique<Impl>(listen, std::move(handler))) {}

HttpServer::~HttpServer() = default;

int HttpServer::port() const noexcept {
  return impl_->port;
}

}  // namespace reflexctl
