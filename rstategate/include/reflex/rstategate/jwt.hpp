#pragma once
// JSON Web Tokens (RFC 7519) as stategate's bearer tokens: signatures checked with HS256 (a shared
// secret) or RS256 (an RSA public key) by libjwt, and the registered claims exp, nbf, iss and aud
// checked here. libjwt stays private to this module.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "reflex/rstategate/export.hpp"
#include "reflex/rstategate/identity.hpp"

namespace reflex::rstategate {

/// What a JwtVerifier accepts. Exactly one of the key files is given.
struct JwtOptions {
  /// HS256: the file holding the shared secret (its bytes; one trailing newline is not part of
  /// it). At least 32 bytes, as RFC 7518 §3.2 asks of an HS256 key.
  std::string hs256_secret_file{};
  /// RS256: the PEM file of the RSA public key ("-----BEGIN PUBLIC KEY-----").
  std::string rs256_public_key_file{};
  /// When not empty, the token's `iss` must be this.
  std::string issuer{};
  /// When not empty, the token's `aud` (a string, or an array of strings) must name this.
  std::string audience{};
  /// Clock skew allowed when checking `exp` and `nbf`.
  std::chrono::seconds leeway{0};
  /// Refuse tokens without an `exp` claim (by default a token without one does not expire).
  bool require_exp = false;
};

/// Verifies JWTs in compact form (header.payload.signature): the header's `alg` must be the
/// configured one (`none` and every other algorithm are refused before the signature is looked
/// at), the signature must verify with the configured key, `exp` must be in the future and `nbf`
/// in the past (each within the leeway; both NumericDate seconds), and issuer and audience must
/// match when configured. Returns the payload's claims as a JSON object text.
///
/// Thread-safety: claims_of() may be called from many threads at once. Lifetime: holds its key
/// in memory; the files are read once, by the constructor.
class REFLEX_RSTATEGATE_EXPORT JwtVerifier final : public TokenVerifier {
 public:
  /// Reads the key. Throws reflex::ConfigError when neither or both key files are given, a file
  /// cannot be read, the secret is shorter than 32 bytes or the PEM file holds no RSA public key.
  explicit JwtVerifier(const JwtOptions& options);
  ~JwtVerifier() override;
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  /// The claims of `bearer_token` (the token itself, without "Bearer "), as a compact JSON
  /// object. Throws Unauthenticated whose what() is one line, "invalid token: <why>" (malformed,
  /// unsigned, signed with another algorithm or key, expired, not yet valid, another issuer or
  /// audience), never naming the token.
  [[nodiscard]] std::string claims_of(std::string_view bearer_token) const override;

  /// "HS256" or "RS256".
  [[nodiscard]] std::string_view algorithm() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<const Impl> impl_;
};

}  // namespace reflex::rstategate
