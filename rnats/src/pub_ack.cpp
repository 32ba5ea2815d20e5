#include "pub_ack.hpp"

#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "reflex/errors.hpp"

namespace reflex::rnats::detail {

namespace {

using nlohmann::json;

[[noreturn]] void malformed(std::string_view body, const std::string& why) {
  throw Error("malformed JetStream publish acknowledgement (" + why + "): " + std::string(body));
}

/// The member `key` of `object` when present; throws when it is there with another type.
template <class T>
std::optional<T> member(const json& object, const char* key, std::string_view body) {
  const auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  if constexpr (std::is_same_v<T, bool>) {
    if (it->is_boolean()) return it->get<bool>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (it->is_string()) return it->get<std::string>();
  } else {
    static_assert(std::is_same_v<T, std::uint64_t>);
    if (it->is_number_unsigned()) return it->get<std::uint64_t>();
  }
  malformed(body, std::string("\"") + key + "\" has the wrong type");
}

int small_int(const json& object, const char* key, std::string_view body) {
  const auto value = member<std::uint64_t>(object, key, body).value_or(0);
  if (value > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
    malformed(body, std::string("\"") + key + "\" is out of range");
  }
  return static_cast<int>(value);
}

}  // namespace

PubAck parse_pub_ack(std::string_view body) {
  const json ack = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (ack.is_discarded()) malformed(body, "not JSON");
  if (!ack.is_object()) malformed(body, "not a JSON object");
  PubAck out;
  if (const auto error = ack.find("error"); error != ack.end()) {
    if (!error->is_object()) malformed(body, "\"error\" is not an object");
    out.error = PubAck::Refusal{
        .code = small_int(*error, "code", body),
        .err_code = small_int(*error, "err_code", body),
        .description = member<std::string>(*error, "description", body).value_or("")};
    return out;
  }
  const auto sequence = member<std::uint64_t>(ack, "seq", body);
  if (!sequence) malformed(body, "no \"seq\"");
  out.sequence = *sequence;
  out.stream = member<std::string>(ack, "stream", body).value_or("");
  out.duplicate = member<bool>(ack, "duplicate", body).value_or(false);
  return out;
}

}  // namespace reflex::rnats::detail
