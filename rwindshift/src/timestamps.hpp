#pragma once

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include <chrono>

namespace reflex::rwindshift::detail {

[[nodiscard]] inline std::chrono::system_clock::time_point from_proto(
    const google::protobuf::Timestamp& t) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(t.seconds()) + std::chrono::nanoseconds(t.nanos())));
}

inline void to_proto(std::chrono::system_clock::time_point t, google::protobuf::Timestamp* out) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  auto seconds = ns / 1'000'000'000;
  auto nanos = ns % 1'000'000'000;
  if (nanos < 0) {  // protobuf wants nanos in [0, 1e9)
    nanos += 1'000'000'000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int>(nanos));
}

[[nodiscard]] inline std::chrono::milliseconds from_proto(const google::protobuf::Duration& d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::seconds(d.seconds()) +
                                                               std::chrono::nanoseconds(d.nanos()));
}

inline void to_proto(std::chrono::milliseconds d, google::protobuf::Duration* out) {
  out->set_seconds(d.count() / 1000);
  out->set_nanos(static_cast<int>((d.count() % 1000) * 1'000'000));
}

}  // namespace reflex::rwindshift::detail
