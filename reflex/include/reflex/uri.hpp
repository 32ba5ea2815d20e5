#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/encoding.hpp"  // percent_decode, used with URIs
#include "reflex/export.hpp"

namespace reflex {

/// A parsed address such as `postgresql://user:pw@127.0.0.1:5432/db?table=events`,
/// `sqlite:///var/lib/app.db?table=events` or `nats://127.0.0.1:4222?stream=orders`. Every module
/// names its sources and stores this way, so they share one parser and one set of error messages.
///
/// Thread-safety: a plain value type.
struct REFLEX_CORE_EXPORT Uri {
  /// Lower-cased scheme, e.g. "postgresql".
  std::string scheme{};
  /// Percent-decoded user name ("" when absent).
  std::string user{};
  /// Percent-decoded password, when the URI carries one (even an empty one).
  std::optional<std::string> password{};
  /// Host name or address; IPv6 addresses without brackets. "" when absent (sqlite:///path).
  std::string host{};
  std::optional<std::uint16_t> port{};
  /// Percent-decoded path including its leading '/', or "".
  std::string path{};
  /// Percent-decoded query parameters in order of appearance.
  std::vector<std::pair<std::string, std::string>> query{};

  /// The first value of query parameter `key`, if present.
  [[nodiscard]] std::optional<std::string> param(std::string_view key) const;
  /// The first value of `key`; throws ConfigError naming the URI and the missing key, with `hint`
  /// (e.g. "add ?table=NAME") appended when given.
  [[nodiscard]] std::string required_param(std::string_view key, std::string_view hint = {}) const;
  /// Throws ConfigError when a query parameter is not one of `known` (catches typos such as
  /// `?tabel=`).
  void check_params(std::initializer_list<std::string_view> known) const;
  /// Removes every query parameter named `key` (a parameter meant for the caller, not for the
  /// driver the URI is handed to).
  void remove_param(std::string_view key);
  /// The URI as text, password included: what to hand to a driver. parse_uri(str()) gives this
  /// URI back (components are percent-encoded where needed).
  [[nodiscard]] std::string str() const;
  /// The URI as text with any password replaced by "***": safe for logs and error messages.
  [[nodiscard]] std::string redacted() const;

 private:
  [[nodiscard]] std::string text(bool with_password) const;
};

/// Parses `scheme://[user[:password]@]host[:port][/path][?key=value&...]`. Throws ConfigError
/// naming what is wrong (missing scheme, bad port, bad percent escape, fragment, ...) and the
/// offending text with its password redacted.
[[nodiscard]] REFLEX_CORE_EXPORT Uri parse_uri(std::string_view text);

}  // namespace reflex
