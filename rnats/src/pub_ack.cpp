#include "pub_ack.hpp"

#include <charconv>
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

/// The acknowledgement as nats-server writes every stored message's, read without building a
/// JSON document (the relay reads one per event): an object of "stream", "domain" (strings
/// without escapes), "seq" (an unsigned integer) and "duplicate" (a boolean), each at most once.
/// nullopt for anything else, which the JSON parser then reads (or rejects).
std::optional<PubAck> parse_plain(std::string_view body) {
  std::size_t i = 0;
  const auto skip_space = [&] {
    while (i < body.size() &&
           (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r')) {
      ++i;
    }
  };
  const auto take = [&](char c) {
    skip_space();
    if (i >= body.size() || body[i] != c) return false;
    ++i;
    return true;
  };
  const auto string = [&]() -> std::optional<std::string_view> {
    if (!take('"')) return std::nullopt;
    // A plain loop: find_first_of calls memchr once per byte here.
    std::size_t end = i;
    while (end < body.size() && body[end] != '"' && body[end] != '\\') ++end;
    if (end == body.size() || body[end] != '"') return std::nullopt;
    const std::string_view text = body.substr(i, end - i);
    i = end + 1;
    return text;
  };
  PubAck out;
  bool seen_stream = false, seen_domain = false, seen_seq = false, seen_duplicate = false;
  if (!take('{')) return std::nullopt;
  do {
    const auto key = string();
    if (!key || !take(':')) return std::nullopt;
    skip_space();
    if (*key == "seq" && !seen_seq) {
      seen_seq = true;
      // JSON digits: no sign, no leading zero, no fraction or exponent (the next token checks).
      if (i + 1 < body.size() && body[i] == '0' && body[i + 1] >= '0' && body[i + 1] <= '9') {
        return std::nullopt;
      }
      const auto [end, ec] =
          std::from_chars(body.data() + i, body.data() + body.size(), out.sequence);
      if (ec != std::errc{}) return std::nullopt;
      i = static_cast<std::size_t>(end - body.data());
    } else if (*key == "duplicate" && !seen_duplicate) {
      seen_duplicate = true;
      if (body.substr(i, 4) == "true") {
        out.duplicate = true;
        i += 4;
      } else if (body.substr(i, 5) == "false") {
        i += 5;
      } else {
        return std::nullopt;
      }
    } else if ((*key == "stream" && !seen_stream) || (*key == "domain" && !seen_domain)) {
      (*key == "stream" ? seen_stream : seen_domain) = true;
      const auto value = string();
      if (!value) return std::nullopt;
      if (*key == "stream") out.stream = *value;
    } else {
      return std::nullopt;
    }
  } while (take(','));
  if (!take('}') || !seen_seq) return std::nullopt;
  skip_space();
  if (i != body.size()) return std::nullopt;
  return out;
}

}  // namespace

PubAck parse_pub_ack(std::string_view body) {
  if (auto plain = parse_plain(body)) return std::move(*plain);
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
