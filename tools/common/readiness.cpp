// Background readiness probes (see readiness.hpp).

#include "readiness.hpp"

#include "outages.hpp"
#include "reflex/errors.hpp"
#include "reflex/wait.hpp"

namespace reflex_tools {
namespace {

/// "" when `check` answers within `timeout`, else why not.
std::string probe_once(std::stop_token stop, const ReadinessCheck& check,
                       std::chrono::milliseconds timeout) {
  std::exception_ptr failure;
  try {
    failure = check.probe(stop, timeout);
  } catch (...) {
    failure = std::current_exception();
  }
  return failure ? describe(failure) : std::string();
}

std::vector<ReadinessCheck> source_checks(
    std::vector<std::pair<std::string, reflex::StreamFunc>> sources) {
  std::vector<ReadinessCheck> checks;
  for (auto& [name, stream] : sources) checks.push_back(source_check(name, std::move(stream)));
  return checks;
}

}  // namespace

ReadinessCheck source_check(std::string name, reflex::StreamFunc stream) {
  return {.name = std::move(name),
          .probe = [stream = std::move(stream)](std::stop_token stop,
                                                std::chrono::milliseconds timeout) {
            return probe(stop, stream, timeout);
          }};
}

#if defined(REFLEX_TOOLS_WITH_NATS)
ReadinessCheck nats_check(reflex::rnats::Connection nats) {
  return {.name = "nats",
          .probe = [nats](std::stop_token,
                          std::chrono::milliseconds timeout) mutable -> std::exception_ptr {
            if (!nats.connected()) {
              return std::make_exception_ptr(
                  reflex::Unavailable("not connected to " + nats.url() + " (reconnecting)"));
            }
            try {
              nats.flush(timeout);
            } catch (...) {
              return std::current_exception();
            }
            return nullptr;
          }};
}
#endif

Readiness::Readiness(std::vector<std::pair<std::string, reflex::StreamFunc>> sources,
                     ReadinessOptions options)
    : Readiness(source_checks(std::move(sources)), options) {}

Readiness::Readiness(std::vector<ReadinessCheck> checks, ReadinessOptions options)
    : options_(options), started_(Clock::now()) {
  for (auto& check : checks) {
    auto source = std::make_unique<Source>();
    source->check = std::move(check);
    sources_.push_back(std::move(source));
  }
  for (auto& source : sources_) {
    threads_.emplace_back([this, &s = *source](std::stop_token stop) { probe_forever(stop, s); });
  }
}

Readiness::~Readiness() {
  for (auto& thread : threads_) thread.request_stop();
  threads_.clear();  // joins
}

void Readiness::probe_forever(std::stop_token stop, Source& source) {
  while (!stop.stop_requested()) {
    {
      std::lock_guard lock(mu_);
      source.running = Clock::now();
      source.is_running = true;
    }
    std::string why = probe_once(stop, source.check, options_.timeout);
    {
      std::lock_guard lock(mu_);
      source.probed = true;
      source.why = std::move(why);
      source.is_running = false;
    }
    cv_.notify_all();
    if (!options_.repeat) return;
    if (!reflex::sleep_for(stop, options_.interval)) return;
  }
}

std::vector<Readiness::Unready> Readiness::unready(std::stop_token stop) const {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, stop, started_ + options_.timeout, [&] {
    for (const auto& s : sources_) {
      if (!s->probed) return false;
    }
    return true;
  });
  const auto now = Clock::now();
  const std::string silent = "no answer within " + std::to_string(options_.timeout.count()) + " ms";
  std::vector<Unready> out;
  for (const auto& s : sources_) {
    if (!s->probed || (s->is_running && now - s->running > options_.timeout)) {
      out.push_back({s->check.name, silent});
    } else if (!s->why.empty()) {
      out.push_back({s->check.name, s->why});
    }
  }
  return out;
}

std::vector<std::string> Readiness::failures() const {
  std::vector<std::string> lines;
  for (const auto& [name, why] : unready()) lines.push_back(name + ": " + why);
  return lines;
}

}  // namespace reflex_tools
