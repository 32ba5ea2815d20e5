// Conversions between reflex values and reflexpb messages.
#include <chrono>
#include <cstdint>
#include <limits>

#include "reflex/errors.hpp"
#include "reflex/rgrpc/generic.hpp"
#include "util.hpp"

namespace reflex::rgrpc {
namespace {

using std::chrono::nanoseconds;
using std::chrono::system_clock;

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
// system_clock counts nanoseconds in 64 bits here: about +-292 years around 1970.
constexpr std::int64_t kMaxSeconds = std::numeric_limits<std::int64_t>::max() / kNanosPerSecond - 1;

}  // namespace

void to_proto(const Event& event, reflexpb::Event& out) {
  out.set_id(event.id);
  out.set_type(event.type);
  out.set_foreign_id(event.foreign_id);
  out.set_metadata(event.metadata);
  out.set_trace(event.trace);
  const auto ns =
      std::chrono::duration_cast<nanoseconds>(event.timestamp.time_since_epoch()).count();
  // Timestamp wants nanos in [0, 1e9) even before 1970: floor, not truncate.
  std::int64_t seconds = ns / kNanosPerSecond;
  std::int64_t nanos = ns % kNanosPerSecond;
  if (nanos < 0) {
    nanos += kNanosPerSecond;
    --seconds;
  }
  auto* ts = out.mutable_timestamp();
  ts->set_seconds(seconds);
  ts->set_nanos(static_cast<std::int32_t>(nanos));
}

std::chrono::system_clock::time_point detail::to_time_point(const google::protobuf::Timestamp& ts,
                                                            std::string_view event_id) {
  if (ts.seconds() > kMaxSeconds || ts.seconds() < -kMaxSeconds || ts.nanos() < 0 ||
      ts.nanos() >= kNanosPerSecond) {
    throw Error("rgrpc: event " + std::string(event_id) + " has timestamp " +
                std::to_string(ts.seconds()) + "s " + std::to_string(ts.nanos()) +
                "ns, outside the range of std::chrono::system_clock (about 1678-2262)");
  }
  return system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(
      nanoseconds(ts.seconds() * kNanosPerSecond + ts.nanos())));
}

Event from_proto(const reflexpb::Event& event) {
  Event out{.id = event.id(),
            .type = event.type(),
            .foreign_id = event.foreign_id(),
            .timestamp = {},
            .metadata = event.metadata(),
            .trace = event.trace()};
  if (event.has_timestamp()) out.timestamp = detail::to_time_point(event.timestamp(), event.id());
  return out;
}

reflexpb::StreamRequest to_request(std::string_view after, const StreamOptions& options) {
  check_stream_options(options);
  reflexpb::StreamRequest request;
  request.set_after(std::string(after));
  auto* out = request.mutable_options();
  if (options.lag > std::chrono::milliseconds::zero()) {
    const auto ms = options.lag.count();
    out->mutable_lag()->set_seconds(ms / 1000);
    out->mutable_lag()->set_nanos(static_cast<std::int32_t>((ms % 1000) * 1'000'000));
  }
  out->set_fromhead(options.from_head);
  out->set_tohead(options.to_head);
  return request;
}

StreamOptions from_proto(const reflexpb::StreamOptions& options) {
  StreamOptions out;
  if (options.has_lag()) {
    const auto& lag = options.lag();
    const auto max_seconds = std::chrono::duration_cast<std::chrono::seconds>(kMaxLag).count();
    if (lag.seconds() > max_seconds) {
      throw ConfigError("the request's lag of " + std::to_string(lag.seconds()) +
                        " s is out of range: at most 100 years");
    }
    const auto ms = std::chrono::milliseconds(lag.seconds() * 1000 + lag.nanos() / 1'000'000);
    if (ms > std::chrono::milliseconds::zero()) out.lag = ms;  // a negative lag counts as none
  }
  out.from_head = options.fromhead();
  out.to_head = options.tohead();
  return out;
}

}  // namespace reflex::rgrpc
