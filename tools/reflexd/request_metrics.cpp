// reflexd's gRPC request metrics (see request_metrics.hpp).

#include "request_metrics.hpp"

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "reflex/rgrpc/errors.hpp"

namespace reflexd {

namespace {

using Clock = std::chrono::steady_clock;

/// "/pkg.Service/Method" as {"pkg.Service", "Method"}.
std::pair<std::string, std::string> split_method(const char* full) {
  const std::string text = full ? full : "";
  const auto slash = text.find('/', 1);
  if (text.empty() || slash == std::string::npos) return {"unknown", text};
  return {text.substr(1, slash - 1), text.substr(slash + 1)};
}

/// Methods with series of their own, at most; calls of further ones count as method "other".
/// The methods served are a small fixed set, but a call of a method nobody serves carries
/// whatever path the client sent: it must not make a series per path.
constexpr std::size_t kMaxMethods = 256;

/// The series of every method, created on a method's first call and kept.
class Families {
 public:
  explicit Families(prometheus::Registry& registry)
      : requests_(prometheus::BuildCounter()
                      .Name("reflex_grpc_requests_total")
                      .Help("gRPC calls reflexd finished, by service, method and status code.")
                      .Register(registry)),
        durations_(prometheus::BuildHistogram()
                       .Name("reflex_grpc_request_duration_seconds")
                       .Help("How long reflexd's gRPC calls took (a stream: its lifetime).")
                       .Register(registry)),
        in_flight_(prometheus::BuildGauge()
                       .Name("reflex_grpc_requests_in_flight")
                       .Help("gRPC calls reflexd is handling now (open streams included).")
                       .Register(registry)) {}

  struct Method {
    prometheus::Histogram* duration;
    prometheus::Gauge* in_flight;
    std::string service;
    std::string name;
  };

  /// The series of `full` ("/pkg.Service/Method"); the reference stays valid (map nodes).
  Method& method(const char* full) {
    std::lock_guard lock(mu_);
    std::string key = full ? full : "";
    if (methods_.size() >= kMaxMethods && !methods_.contains(key)) key = "/other/other";
    auto it = methods_.find(key);
    if (it != methods_.end()) return it->second;
    auto [service, name] = split_method(key.c_str());
    static const prometheus::Histogram::BucketBoundaries buckets = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60};
    Method m{.duration = &durations_.Add({{"service", service}, {"method", name}}, buckets),
             .in_flight = &in_flight_.Add({{"service", service}, {"method", name}}),
             .service = service,
             .name = name};
    return methods_.emplace(std::move(key), std::move(m)).first->second;
  }

  void count(const Method& m, grpc::StatusCode code) {
    prometheus::Counter* counter = nullptr;
    {
      std::lock_guard lock(mu_);
      auto& slot = counters_[{m.service + "/" + m.name, static_cast<int>(code)}];
      if (!slot) {
        slot = &requests_.Add({{"service", m.service},
                               {"method", m.name},
                               {"code", reflex::rgrpc::status_code_name(static_cast<int>(code))}});
      }
      counter = slot;
    }
    counter->Increment();
  }

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
  prometheus::Family<prometheus::Gauge>& in_flight_;
  std::mutex mu_;
  std::map<std::string, Method> methods_;
  std::map<std::pair<std::string, int>, prometheus::Counter*> counters_;
};

class Interceptor final : public grpc::experimental::Interceptor {
 public:
  Interceptor(Families& families, grpc::experimental::ServerRpcInfo* info)
      : families_(families), method_(families.method(info->method())), started_(Clock::now()) {
    method_.in_flight->Increment();
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      code_ = methods->GetSendStatus().error_code();
      sent_status_ = true;
    }
    methods->Proceed();
  }

  ~Interceptor() override {
    // Destroyed when the call is done; a call that never sent a status was cancelled.
    method_.in_flight->Decrement();
    method_.duration->Observe(std::chrono::duration<double>(Clock::now() - started_).count());
    families_.count(method_, sent_status_ ? code_ : grpc::StatusCode::CANCELLED);
  }

 private:
  Families& families_;
  Families::Method& method_;
  Clock::time_point started_;
  grpc::StatusCode code_ = grpc::StatusCode::OK;
  bool sent_status_ = false;
};

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(prometheus::Registry& registry) : families_(registry) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new Interceptor(families_, info);
  }

 private:
  Families families_;
};

}  // namespace

std::shared_ptr<grpc::experimental::ServerInterceptorFactoryInterface> request_metrics(
    prometheus::Registry& registry) {
  return std::make_shared<Factory>(registry);
}

}  // namespace reflexd
