#include "validation.hpp"

#include "reflex/rstate/entities.hpp"

namespace reflex::rstategate::detail {
namespace {

std::string shown(std::string_view value) {
  constexpr std::size_t kMax = 64;
  std::string out(value.substr(0, kMax));
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';  // the message stays one line
  }
  if (value.size() > kMax) out += "...";
  return out;
}

}  // namespace

std::string check_name(std::string_view field, std::string_view value) {
  if (rstate::is_name(value)) return {};
  return std::string(field) + ": must not be empty or contain white space (got '" + shown(value) +
         "')";
}

std::string check_pattern(std::string_view field, std::string_view value) {
  if (auto message = check_name(field, value); !message.empty()) return message;
  if (value != "*" && value.find('*') != std::string_view::npos) {
    return std::string(field) + ": '*' matches any value only as the whole field (got '" +
           shown(value) + "')";
  }
  return {};
}

std::string check_present(std::string_view field, bool present) {
  if (present) return {};
  return std::string(field) + ": is required";
}

std::string check_expiry(std::string_view field, bool present,
                         const google::protobuf::Timestamp& exp,
                         std::optional<Clock::time_point>& expires) {
  expires.reset();
  if (!present || (exp.seconds() == 0 && exp.nanos() == 0)) return {};
  // Expiry is kept in nanoseconds since the epoch (int64: up to the year 2262), so the times
  // accepted stop short of that; a time before 1970 is in the past anyway.
  constexpr std::int64_t kMaxSeconds = 9'000'000'000;  // 2255-03-14
  if (exp.seconds() > kMaxSeconds || exp.nanos() < 0 || exp.nanos() > 999999999) {
    return std::string(field) + ": not a valid timestamp before 2255";
  }
  if (exp.seconds() < 0) return std::string(field) + ": is in the past (0 or unset: never)";
  const auto at = Clock::time_point(std::chrono::duration_cast<Clock::duration>(
      std::chrono::seconds(exp.seconds()) + std::chrono::nanoseconds(exp.nanos())));
  if (at <= Clock::now()) return std::string(field) + ": is in the past (0 or unset: never)";
  expires = at;
  return {};
}

}  // namespace reflex::rstategate::detail
