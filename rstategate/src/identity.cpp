#include "reflex/rstategate/identity.hpp"

#include <cstddef>
#include <nlohmann/json.hpp>

namespace reflex::rstategate {
namespace {

/// Compares in time independent of where the texts differ (a token is a secret).
bool same_secret(std::string_view a, std::string_view b) noexcept {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = a.size() < b.size() ? a.size() : b.size();
  for (std::size_t i = 0; i < n; ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

/// The token of "Bearer <token>" (the scheme in any case, as RFC 7235 says), or "".
std::string_view bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    const char c = authorization[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != kScheme[i]) return {};
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

}  // namespace

TokenVerifier::~TokenVerifier() = default;

Identity::Identity(IdentityOptions options) : options_(std::move(options)) {}

std::string Identity::verify(std::string_view authorization) const {
  if (options_.disabled) return "{}";
  if (authorization.empty()) throw Unauthenticated("no authorization: send \"Bearer <token>\"");
  const std::string_view token = bearer_token(authorization);
  if (token.empty()) throw Unauthenticated("authorization is not \"Bearer <token>\"");
  if (!options_.token.empty() && same_secret(token, options_.token)) return "{}";
  if (!options_.verifier) {
    throw Unauthenticated(options_.token.empty()
                              ? "this server accepts no credentials (no token or verifier set)"
                              : "invalid token");
  }
  std::string claims = options_.verifier->claims_of(token);
  const auto parsed = nlohmann::json::parse(claims, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    throw Unauthenticated("the token's claims are not a JSON object");
  }
  return claims;
}

}  // namespace reflex::rstategate
