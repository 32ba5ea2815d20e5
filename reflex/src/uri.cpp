#include "reflex/uri.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "reflex/encoding.hpp"
#include "reflex/errors.hpp"

namespace reflex {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Hides the password of a URI that failed to parse: everything between "://user:" and the last '@'
// before the path.
std::string redact_raw(std::string_view text) {
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return std::string(text);
  const auto auth_begin = scheme_end + 3;
  const auto auth_end = text.find_first_of("/?#", auth_begin);
  const auto authority =
      text.substr(auth_begin, auth_end == std::string_view::npos ? std::string_view::npos
                                                                 : auth_end - auth_begin);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(text);
  const auto colon = authority.find(':');
  if (colon == std::string_view::npos || colon > at) return std::string(text);
  std::string out(text.substr(0, auth_begin + colon + 1));
  out += "***";
  out += text.substr(auth_begin + at);
  return out;
}

[[noreturn]] void fail(std::string_view text, const std::string& why) {
  throw ConfigError("malformed URI " + quoted(redact_raw(text), 512) + ": " + why);
}

}  // namespace

Uri parse_uri(std::string_view text) {
  Uri uri;
  // The error names the whole URI (redacted), not the part: that part may be the password.
  const auto decode = [&](std::string_view part) {
    auto decoded = try_percent_decode(part);
    if (!decoded)
      fail(text, "a percent escape is malformed ('%' must be followed by two hex digits)");
    return std::move(*decoded);
  };
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    fail(text, "expected scheme://..., e.g. postgresql://user@127.0.0.1:5432/db");
  }
  const auto scheme = text.substr(0, scheme_end);
  if (scheme.empty() || !std::isalpha(static_cast<unsigned char>(scheme[0])) ||
      !std::all_of(scheme.begin(), scheme.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '+' || c == '-' || c == '.';
      })) {
    fail(text, "the scheme \"" + std::string(scheme) + "\" is not valid");
  }
  uri.scheme = lower(scheme);
  if (text.find('#') != std::string_view::npos) fail(text, "fragments (#...) are not supported");

  std::string_view rest = text.substr(scheme_end + 3);
  const auto query_begin = rest.find('?');
  std::string_view query;
  if (query_begin != std::string_view::npos) {
    query = rest.substr(query_begin + 1);
    rest = rest.substr(0, query_begin);
  }
  const auto path_begin = rest.find('/');
  std::string_view authority = rest.substr(0, path_begin);
  if (path_begin != std::string_view::npos) uri.path = decode(rest.substr(path_begin));

  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const auto userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    uri.user = decode(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) uri.password = decode(userinfo.substr(colon + 1));
  }

  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) fail(text, "unterminated IPv6 address '['");
    uri.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') fail(text, "unexpected text after the IPv6 address");
      port_text = after.substr(1);
      if (port_text.empty()) fail(text, "empty port after ':'");
    }
  } else {
    const auto colon = authority.rfind(':');
    uri.host = decode(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) fail(text, "empty port after ':'");
    }
  }
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      fail(text, "the port " + quoted(port_text) + " is not a number from 1 to 65535");
    }
    uri.port = static_cast<std::uint16_t>(value);
  }
  if (uri.host.find_first_of(" \t\r\n") != std::string::npos) {
    fail(text, "the host contains white space");
  }

  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    std::string key = decode(pair.substr(0, eq));
    if (key.empty()) fail(text, "a query parameter has an empty name");
    std::string value = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
    uri.query.emplace_back(std::move(key), std::move(value));
  }
  return uri;
}

std::optional<std::string> Uri::param(std::string_view key) const {
  for (const auto& [k, v] : query) {
    if (k == key) return v;
  }
  return std::nullopt;
}

std::string Uri::required_param(std::string_view key, std::string_view hint) const {
  if (auto value = param(key); value && !value->empty()) return *value;
  std::string message =
      "URI \"" + redacted() + "\" needs the query parameter \"" + std::string(key) + "\"";
  if (!hint.empty()) message += " (" + std::string(hint) + ")";
  throw ConfigError(message);
}

void Uri::check_params(std::initializer_list<std::string_view> known) const {
  for (const auto& [k, v] : query) {
    if (std::find(known.begin(), known.end(), k) != known.end()) continue;
    std::string list;
    for (auto name : known) list += (list.empty() ? "" : ", ") + std::string(name);
    throw ConfigError("URI \"" + redacted() + "\" has an unknown query parameter \"" + k +
                      "\" (known: " + (list.empty() ? "none" : list) + ")");
  }
}

void Uri::remove_param(std::string_view key) {
  std::erase_if(query, [&](const auto& pair) { return pair.first == key; });
}

std::string Uri::text(bool with_password) const {
  std::string out = scheme + "://";
  if (!user.empty() || password) {
    out += percent_encode(user);
    if (password) out += ":" + (with_password ? percent_encode(*password) : std::string("***"));
    out += '@';
  }
  out += host.find(':') != std::string::npos ? "[" + host + "]" : percent_encode(host);
  if (port) out += ":" + std::to_string(*port);
  out += percent_encode(path, "/-._~");
  for (std::size_t i = 0; i < query.size(); ++i) {
    out += i == 0 ? '?' : '&';
    out += percent_encode(query[i].first) + "=" + percent_encode(query[i].second, "-._~/,");
  }
  return out;
}

std::string Uri::str() const {
  return text(true);
}

std::string Uri::redacted() const {
  return text(false);
}

}  // namespace reflex
